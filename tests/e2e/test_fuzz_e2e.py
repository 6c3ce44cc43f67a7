"""The fuzzing gate: schemathesis over the real app (hypercorn, SQLite file) finds no server error, no answer off
its documented schema or media type and no undocumented status, rules-only and on the fake upstream; and a
create -> act -> log sequence built from the document holds too. `make fuzz` runs the same, longer."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.fuzz import fuzz

pytestmark = pytest.mark.e2e

#: Generated cases per operation and phase: small enough for `make test`, enough to cross every operation.
EXAMPLES = {"rules": 15, "llm": 8}
SEQUENCES = 8


@pytest.mark.parametrize("mode", ["rules", "llm"])
def test_schemathesis_finds_nothing(mode: str, tmp_path: Path) -> None:
    report = fuzz(mode, tmp_path, examples=EXAMPLES[mode], sequences=SEQUENCES)
    print(report.summary())
    assert report.clean, report.output[-20000:] + "\n".join(report.sequence_failures)
    assert report.operations >= 19, report.summary()  # every operation (with the LLM, the mode switch is not fuzzed)
    assert report.cases >= 300, report.summary()
    assert report.sequences >= SEQUENCES  # hypothesis may run a few more than max_examples
