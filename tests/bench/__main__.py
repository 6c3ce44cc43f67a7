"""`make bench` / `make bench-quick`: every scenario of docs/PERFORMANCE.md, each beside its yardstick.

    python -m tests.bench [--profile full|quick] [--only llm,act,...] [--out bench-results] [--docs docs/PERFORMANCE.md]

The fake upstream, the app (and its yardsticks) and the load client run as separate processes; the load
client (tests/bench/load.py) is raw asyncio on uvloop, so it costs the server little CPU. Every figure that
a target judges is a ratio of two measurements of the same run, because the machine is shared. Results go
to `--out` (JSON and CSV), plots to `performance/` beside `--docs`, and the tables into `--docs`.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import platform
import shlex
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.bench import report as reporting
from tests.bench.scenarios import (
    Bench,
    Sizes,
    bench_actions,
    bench_llm,
    bench_paced,
    bench_run,
    bench_scale,
    bench_sequential,
    bench_soak,
)
from tests.support.server import ROOT
from xianxia.logs import configure_logging

SCENARIOS: dict[str, Callable[[Bench], dict[str, Any]]] = {
    "llm": bench_llm,
    "act": bench_actions,
    "paced": bench_paced,
    "sequential": bench_sequential,
    "scale": bench_scale,
    "soak": bench_soak,
}


def machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os

    return f"{os.cpu_count()} CPUs ({model or platform.processor()}), {platform.system()} {platform.release()}"


def versions() -> str:
    names = ("quart", "hypercorn", "httpx", "aiohttp", "uvloop", "pydantic", "aiosqlite")
    found = []
    for name in names:
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return ", ".join(found)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument("--profile", choices=("full", "quick"), default="full")
    parser.add_argument("--only", default="", help=f"comma-separated scenarios of {', '.join(SCENARIOS)}")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs" / "PERFORMANCE.md")
    args = parser.parse_args(argv)
    configure_logging("WARNING")
    sizes = Sizes.named(args.profile)
    chosen = [name for name in args.only.split(",") if name] or list(SCENARIOS)
    unknown = set(chosen) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    if sizes.soak_actions <= 0 and "soak" in chosen:
        chosen.remove("soak")
    try:
        import uvloop  # noqa: F401

        loop = "uvloop (XIANXIA_EVENT_LOOP=auto)"
    except ImportError:  # pragma: no cover
        loop = "asyncio"
    report: dict[str, Any] = {
        "meta": {
            "profile": args.profile,
            "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M"),
            "machine": machine(),
            "python": platform.python_version(),
            "loop": loop,
            "versions": versions(),
            "command": "make bench" if args.profile == "full" else "make bench-quick",
            "argv": shlex.join(sys.argv),
            "seconds": {},
        },
        "sizes": sizes.__dict__ | {},
    }
    with tempfile.TemporaryDirectory(prefix="xianxia-bench-") as scratch, bench_run(sizes, Path(scratch)) as bench:
        started = time.perf_counter()
        bench.prestart(chosen)
        report["meta"]["seconds"]["start"] = round(time.perf_counter() - started, 1)
        for name in chosen:
            started = time.perf_counter()
            print(f"bench: {name} ...", flush=True)
            report[name] = SCENARIOS[name](bench)
            report["meta"]["seconds"][name] = round(time.perf_counter() - started, 1)
            print(f"bench: {name} done in {report['meta']['seconds'][name]} s", flush=True)
    written = reporting.write_results(report, args.out)
    plots = reporting.plot(report, args.docs.parent / "performance")
    reporting.render(report, plots, args.docs)
    for row in reporting.targets(report):
        print(" | ".join(row))
    print("wrote", ", ".join(str(p) for p in [*written, *plots, args.docs]))
    print(json.dumps({k: v for k, v in report["meta"]["seconds"].items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
