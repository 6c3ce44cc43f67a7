"""Suite-wide reporting: parser scores on the labelled corpus are shown at the end of every run."""

from __future__ import annotations

import pytest

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
