"""Suite-wide set-up: the database and Redis servers the tests use; parser scores shown at the end of every run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from xianxia.config import Settings

#: Throwaway PostgreSQL and Redis servers when nothing listens at XIANXIA_TEST_DATABASE_URL / XIANXIA_TEST_REDIS_URL.
pytest_plugins = ["tests.support.throwaway"]

#: (what was scored, accuracy, utterances), filled by the corpus tests.
CORPUS_SCORES: list[tuple[str, float, int]] = []


def report_corpus_score(name: str, accuracy: float, utterances: int) -> None:
    """Record a parser's score for the terminal summary."""
    CORPUS_SCORES.append((name, accuracy, utterances))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if CORPUS_SCORES:
        terminalreporter.section("corpus accuracy (intent and slots both right)")
        for name, accuracy, utterances in CORPUS_SCORES:
            terminalreporter.write_line(f"{name}: {accuracy:.3f} on {utterances} utterances")


@pytest.fixture(autouse=True)
def _hermetic_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """`Settings()` reads os.environ: a test sees only the variables it sets, not the shell's."""
    for name in Settings.variables():
        monkeypatch.delenv(name, raising=False)
    yield
