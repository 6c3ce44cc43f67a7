"""The error-code table (docs/API.md's) lists every code the code base and the nginx config can answer."""

from __future__ import annotations

import re

from tests.support.server import ROOT
from xianxia.llm.errors import _LABELS
from xianxia.web.error_codes import ERROR_CODES

RESPONSE_CODE = re.compile(r"error_response\(\s*(\d{3}),\s*\"([a-z_]+)\"")
CLASS_CODE = re.compile(r"^\s+status = (\d{3})\n\s+code = \"([a-z_]+)\"", re.M)
NGINX_CODE = re.compile(r"return (\d{3}) '\{\"error\":\{\"code\":\"([a-z_]+)\"")


def answered() -> set[str]:
    """Every code the sources can answer: literal error_response calls, APIError classes, LLM errors, nginx."""
    found: set[str] = set()
    for path in (ROOT / "xianxia").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        found |= {code for _, code in RESPONSE_CODE.findall(text)}
        found |= {code for _, code in CLASS_CODE.findall(text)}
    found |= {f"llm_{label}" for label in _LABELS.values()}
    found |= {code for _, code in NGINX_CODE.findall((ROOT / "deploy" / "nginx" / "xianxia.conf").read_text())}
    return found


def test_every_answered_code_is_in_the_table() -> None:
    listed = {entry.code for entry in ERROR_CODES}
    missing = sorted(answered() - listed)
    assert not missing, f"add these to xianxia/web/error_codes.py: {missing}"


def test_the_table_lists_each_code_once_with_a_cause_and_a_remedy() -> None:
    codes = [entry.code for entry in ERROR_CODES]
    assert len(codes) == len(set(codes))
    for entry in ERROR_CODES:
        assert 400 <= entry.status < 600 and entry.cause and entry.remedy, entry


def test_the_table_agrees_with_the_statuses_the_sources_use() -> None:
    statuses = {entry.code: entry.status for entry in ERROR_CODES}
    for path in (ROOT / "xianxia").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for status, code in RESPONSE_CODE.findall(text) + CLASS_CODE.findall(text):
            assert statuses[code] == int(status), (path.name, code, status)
