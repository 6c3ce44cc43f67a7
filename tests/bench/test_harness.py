"""`make bench-quick` at tiny sizes leaves well-formed results: JSON, CSV, PNG plots and PERFORMANCE.md tables.

The harness runs for real (fake upstream, the app under our serving layer, gunicorn for the old service, the
load process); nothing here judges a figure, only that each scenario measured what it says it measured.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench.report import BLOCKS
from tests.support.server import ROOT

pytestmark = pytest.mark.e2e

TINY = {
    "BENCH_LEVELS": "1,3",
    "BENCH_LATENCY": "0.05",
    "BENCH_FLASK_LEVELS": "3",
    "BENCH_ACT_CLIENTS": "4",
    "BENCH_ACT_SECONDS": "0.5",
    "BENCH_PACED_PLAYERS": "10",
    "BENCH_PACED_SECONDS": "1",
    "BENCH_SEQUENTIAL": "10",
    "BENCH_SCALE_PLAYERS": "30",
    "BENCH_SCALE_TASKS": "30",
    "BENCH_SCALE_ROUND_SECONDS": "0.5",
    "BENCH_SOAK_ACTIONS": "150",
}
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bench")
    command = [sys.executable, "-m", "tests.bench", "--profile", "quick"]
    command += ["--out", str(folder / "results"), "--docs", str(folder / "docs" / "PERFORMANCE.md")]
    done = subprocess.run(
        command, cwd=ROOT, env={**os.environ, **TINY}, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    return folder


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_every_scenario_is_in_the_json(run: Path) -> None:
    report = json.loads((run / "results" / "bench.json").read_text())
    assert {"meta", "sizes", "llm", "act", "paced", "sequential", "scale", "soak"} <= report.keys()
    assert report["sizes"]["levels"] == [1, 3]
    assert report["meta"]["profile"] == "quick"


def test_every_llm_call_is_answered_and_counted_at_the_upstream(run: Path) -> None:
    table = rows(run / "results" / "llm.csv")
    seen = {(row["implementation"], row["route"], int(row["concurrency"])) for row in table}
    for name in ("direct", "quart_sleep_floor", "quart_proxy", "app_async", "app_sync"):
        assert {(name, "chat", 1), (name, "chat", 3)} <= seen
    assert {("app_async", "parse", 3), ("app_sync", "parse", 3), ("old_flask", "chat", 3)} <= seen
    for row in table:
        assert int(row["ok"]) == int(row["concurrency"]), row
        # Distinct prompts: neither the cache nor single-flight merges them, so each call reaches the upstream.
        expected = 0 if row["implementation"] == "quart_sleep_floor" else int(row["concurrency"])
        assert int(row["upstream_calls"]) == expected, row


def test_cpu_per_call_is_measured_for_both_modes(run: Path) -> None:
    cpu = json.loads((run / "results" / "bench.json").read_text())["llm"]["cpu"]
    assert cpu["app_async"]["calls"] == cpu["app_sync"]["calls"] > 0
    assert cpu["app_async"]["cpu_s"] >= 0 and cpu["app_sync"]["cpu_s"] >= 0


def test_every_acknowledged_action_is_committed(run: Path) -> None:
    report = json.loads((run / "results" / "bench.json").read_text())
    for row in report["act"]["rows"]:
        assert row["errors"] == 0, row
        if row["target"] == "game_act":
            # Warm-up actions are committed too, so the store holds at least what was measured.
            assert row["committed_versions"] >= row["ok"] > 0
    assert report["paced"]["ok"] > 0 and report["paced"]["errors"] == 0
    assert report["sequential"]["get"]["ok"] == report["sequential"]["act"]["ok"] == 10
    assert report["scale"]["touch"]["ok"] == 30
    assert report["soak"]["ok"] == 150 and report["soak"]["rss_samples"]


def test_csv_tables_have_headers_and_rows(run: Path) -> None:
    for name in ("llm", "act", "paced", "sequential", "scale", "soak"):
        table = rows(run / "results" / f"{name}.csv")
        assert table, name
        assert all(value != "" for value in table[0].values() if value is not None) or name == "llm"


def test_plots_are_png_files(run: Path) -> None:
    plots = sorted((run / "docs" / "performance").glob("*.png"))
    names = {path.name for path in plots}
    assert {"llm_wall.png", "llm_p95.png", "llm_throughput.png", "act_vs_bare.png", "paced_percentiles.png"} <= names
    assert "soak_rss.png" in names
    for path in plots:
        assert path.read_bytes().startswith(PNG), path


def test_performance_doc_gets_every_table(run: Path) -> None:
    document = (run / "docs" / "PERFORMANCE.md").read_text()
    for name in BLOCKS:
        block = document.split(f"<!-- bench:{name} -->", 1)[1].split(f"<!-- /bench:{name} -->", 1)[0]
        assert block.strip(), name
    assert "](performance/llm_wall.png)" in document
    assert "| measure | this run | target | verdict |" in document
