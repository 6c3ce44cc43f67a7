"""Settings come from the environment, once, with the documented defaults."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from pydantic import ValidationError

import xianxia
from xianxia.config import DEFAULT_DATABASE_URL, Settings
from xianxia.web.app import create_app

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_play_without_a_key() -> None:
    settings = Settings.from_env({})
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.deepseek_base_url == "https://api.deepseek.com"
    assert settings.deepseek_model == "deepseek-chat"
    assert settings.llm_timeout == 30 and settings.llm_connect_timeout == 5
    assert settings.max_body_bytes == 64 * 1024
    assert settings.effective_llm_mode == "off"


def test_mode_from_env_and_legacy_switch() -> None:
    key = {"DEEPSEEK_API_KEY": "sk-test"}
    assert Settings.from_env({**key, "XIANXIA_LLM_MODE": "SYNC"}).effective_llm_mode == "sync"
    assert Settings.from_env({**key, "USE_ASYNC_DEEPSEEK": "0"}).effective_llm_mode == "sync"
    assert Settings.from_env({**key, "USE_ASYNC_DEEPSEEK": "1"}).effective_llm_mode == "async"
    assert Settings.from_env({**key, "XIANXIA_LLM_MODE": "off", "USE_ASYNC_DEEPSEEK": "1"}).llm_mode == "off"
    assert Settings.from_env({"XIANXIA_LLM_MODE": "async"}).effective_llm_mode == "off"


def test_the_flask_services_flags_are_honoured_and_marked_deprecated() -> None:
    key = {"DEEPSEEK_API_KEY": "sk-test"}
    assert Settings.from_env({**key, "FLASK_ASYNC_ENABLED": "true"}).llm_mode == "async"
    assert Settings.from_env({**key, "FLASK_ASYNC_ENABLED": "False"}).llm_mode == "sync"
    assert Settings.from_env({**key, "FLASK_ASYNC_ENABLED": "true", "USE_ASYNC_DEEPSEEK": "0"}).llm_mode == "sync"
    assert Settings.from_env({**key, "FLASK_ASYNC_ENABLED": "0", "XIANXIA_LLM_MODE": "off"}).llm_mode == "off"
    both = Settings.from_env({"USE_ASYNC_DEEPSEEK": "1", "FLASK_ASYNC_ENABLED": "1"})
    assert both.deprecations() == [
        ("USE_ASYNC_DEEPSEEK", "XIANXIA_LLM_MODE=async"),
        ("FLASK_ASYNC_ENABLED", "XIANXIA_LLM_MODE=async"),
    ]
    assert Settings.from_env({"XIANXIA_LLM_MODE": "sync"}).deprecations() == []


def test_the_app_logs_a_deprecation_warning_for_each_old_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings.from_env(
        {"XIANXIA_DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}", "FLASK_ASYNC_ENABLED": "1", "XIANXIA_LOG_JSON": "1"}
    )
    create_app(settings)
    logged = capsys.readouterr()
    line = next(line for line in (logged.err + logged.out).splitlines() if "deprecated_setting" in line)
    assert '"variable": "FLASK_ASYNC_ENABLED"' in line and '"level": "warning"' in line
    assert "XIANXIA_LLM_MODE=async" in line


def test_numbers_are_parsed_and_checked() -> None:
    settings = Settings.from_env({"LLM_MAX_WORKERS": "5", "LLM_TIMEOUT": "2.5", "XIANXIA_ADMIN_TOKEN": ""})
    assert settings.llm_max_workers == 5 and settings.llm_timeout == 2.5
    assert settings.admin_token is None
    # The error names the variable the operator set, not the field behind it.
    with pytest.raises(ValidationError, match="LLM_MAX_WORKERS"):
        Settings.from_env({"LLM_MAX_WORKERS": "0"})
    with pytest.raises(ValidationError, match="XIANXIA_LLM_MODE"):
        Settings.from_env({"XIANXIA_LLM_MODE": "turbo"})


@pytest.mark.parametrize(
    ("bind", "address"), [("127.0.0.1:9100", ("127.0.0.1", 9100)), ("[::1]:9100", ("::1", 9100)), ("", None)]
)
def test_the_metrics_bind_is_host_and_port(bind: str, address: tuple[str, int] | None) -> None:
    assert Settings.from_env({"XIANXIA_METRICS_BIND": bind}).metrics_address == address


@pytest.mark.parametrize("bind", ["9100", "localhost", "host:port", ":9100", "127.0.0.1:70000"])
def test_a_metrics_bind_that_is_not_host_and_port_is_refused(bind: str) -> None:
    with pytest.raises(ValidationError, match="XIANXIA_METRICS_BIND"):
        Settings.from_env({"XIANXIA_METRICS_BIND": bind})


def _readme_table_variables() -> set[str]:
    """The variables named in the first cell of each row of README's configuration table."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Configuration (environment)", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert rows, "README's configuration table is missing"
    return {name for row in rows for name in re.findall(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b", row.split("|")[1])}


def test_readme_lists_every_setting_and_nothing_else() -> None:
    documented, read = _readme_table_variables(), set(Settings.variables())
    assert read - documented == set(), "settings missing from README's configuration table"
    assert documented - read == set(), "README documents variables no setting reads"


def test_every_setting_has_a_variable() -> None:
    for name, field in Settings.model_fields.items():
        assert isinstance(field.validation_alias, str), f"{name} has no environment variable"
        assert Settings.from_env({field.validation_alias: ""}) == Settings.from_env({}), f"{name}: blank is unset"


def test_the_version_comes_from_pyproject_and_matches_the_changelog() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    released = re.findall(r"^## \[(\d+\.\d+\.\d+)\]", (ROOT / "docs" / "CHANGELOG.md").read_text(), re.M)
    assert xianxia.__version__ == declared
    assert released and released[0] == declared, "the newest changelog release is not pyproject's version"


async def test_openapi_states_the_package_version(tmp_path: Path) -> None:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'v.db'}", log_level="WARNING"))
    async with app.test_app():
        response = await app.test_client().get("/openapi.json")
        assert (await response.get_json())["info"]["version"] == xianxia.__version__


def test_settings_read_os_environ_and_arguments_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_TIMEOUT", "3")
    monkeypatch.setenv("XIANXIA_LOG_JSON", "auto")
    monkeypatch.setenv("XIANXIA_TASK_MAX_RUNNING", "7")
    assert Settings.from_env().llm_timeout == 3 and Settings.from_env().log_json is None
    assert Settings().task_max_running == 7
    assert Settings(llm_timeout=5).llm_timeout == 5
    monkeypatch.setenv("XIANXIA_LOG_JSON", "1")
    assert Settings().log_json is True
