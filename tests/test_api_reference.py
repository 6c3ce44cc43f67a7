"""docs/API.md is what tests/support/api_reference.py makes of the current OpenAPI document and error table."""

from __future__ import annotations

import subprocess
import sys

from tests.support.server import ROOT


def test_api_reference_is_current() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tests.support.api_reference", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr + "\n(regenerate it with `make api-docs`)"


def test_api_reference_lists_every_route_and_error_code() -> None:
    text = (ROOT / "docs" / "API.md").read_text(encoding="utf-8")
    for route in ("### POST /api/players/{player_id}/act", "### PUT /api/admin/mode", "### GET /readyz"):
        assert route in text
    assert "| 503 | `store_unavailable` |" in text
    assert text.count("```sh") == text.count("```python") == text.count("```js") == text.count("\n### ")
