"""A small, bounded `make chaos` on both backends: kills, a reload and a drain under load lose nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos.run import Scenario, run
from tests.support.databases import BACKENDS

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_small_chaos_run_loses_nothing_and_fails_no_action(tmp_path: Path, backend: str) -> None:
    scenario = Scenario(backend=backend, players=4, workers=2, actions_between=10)  # type: ignore[arg-type]

    report = run(scenario, tmp_path)

    figures = report.render()
    assert report.problems == [], figures
    assert [what for what, _ in report.disruptions] == ["SIGKILL a worker", "SIGHUP", "SIGTERM an instance", "restart"]
    assert report.ledger.acknowledged >= 4 * 10 and report.verdict.players == 4, figures
    assert report.ledger.parsers["llm"] > 0, figures  # the LLM path was under test, not only the fallback
    assert sum(report.upstream.get(fault, 0) for fault in ("server_error", "unavailable", "rate_limit")) > 0, figures
    expected_exits = {f"instance{i + 1}": [0] for i in range(scenario.instance_count)}
    expected_exits[f"instance{scenario.instance_count}"] = [0, 0]  # drained under load, then at the end
    assert report.exit_codes == expected_exits, figures
    assert report.verdict.integrity == ("ok" if backend == "sqlite" else "n/a"), figures


def test_a_rollback_below_the_injected_faults_fires_and_still_no_action_fails(tmp_path: Path) -> None:
    scenario = Scenario(backend="sqlite", players=4, workers=2, actions_between=10, rollback="below")

    report = run(scenario, tmp_path)

    figures = report.render()
    assert report.problems == [], figures
    assert report.final_mode == "off", figures
    assert report.ledger.parsers["rules"] > 0, figures  # the rules parser took over
