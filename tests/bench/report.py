"""What a bench run leaves behind: bench-results/*.json and *.csv, PNG plots, and docs/PERFORMANCE.md's tables.

PERFORMANCE.md keeps its prose; only the blocks between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`
are rewritten, so a run refreshes the figures and the text around them stays as written.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

LLM_COLUMNS = ["implementation", "route", "concurrency", "ok", "errors", "upstream_calls", "wall_s", "rps"]
LLM_COLUMNS += ["p50_ms", "p95_ms", "p99_ms", "server_cpu_s"]
LATENCY_COLUMNS = ["requests", "ok", "errors", "wall_s", "rps", "p50_ms", "p95_ms", "p99_ms", "max_ms", "client_cpu_s"]
LABELS = {
    "direct": "direct to upstream (the limit)",
    "quart_sleep_floor": "bare Quart, sleep only (floor)",
    "quart_proxy": "minimal Quart proxy",
    "app_async": "app, async mode",
    "app_sync": "app, sync mode",
    "old_flask": "old Flask + gunicorn gthread",
}
BLOCKS = ("run", "targets", "llm", "cpu", "act", "paced", "sequential", "scale", "soak", "plots")


def write_results(report: dict[str, Any], out: Path) -> list[Path]:
    """bench.json with everything, and one CSV per table."""
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "bench.json"]
    written[0].write_text(json.dumps(report, indent=2, ensure_ascii=False))
    tables: dict[str, tuple[list[str], list[dict[str, Any]]]] = {}
    if "llm" in report:
        tables["llm"] = (LLM_COLUMNS, report["llm"]["rows"])
    if "act" in report:
        tables["act"] = (["target", "workers", *LATENCY_COLUMNS, "server_cpu_s"], report["act"]["rows"])
    if "paced" in report:
        tables["paced"] = (["players", *LATENCY_COLUMNS], [report["paced"]])
    if "sequential" in report:
        rows = [{"request": name, **report["sequential"][name]} for name in ("get", "act")]
        tables["sequential"] = (["request", *LATENCY_COLUMNS], rows)
    if "scale" in report:
        scale = report["scale"]
        rows = [
            {
                "store": name,
                "rss_mb_idle": scale["rss_mb_idle"][name],
                "rss_mb_loaded": scale["rss_mb_loaded"][name],
                "p95_ms": scale["p95_ms"][name],
            }
            for name in ("empty", "full")
        ]
        tables["scale"] = (["store", "rss_mb_idle", "rss_mb_loaded", "p95_ms"], rows)
    if "soak" in report:
        rows = [{"seconds": s, "rss_mb": mb} for s, mb in report["soak"]["rss_samples"]]
        tables["soak"] = (["seconds", "rss_mb"], rows)
    for name, (columns, rows) in tables.items():
        path = out / f"{name}.csv"
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
        written.append(path)
    return written


def _series(rows: list[dict[str, Any]], route: str) -> dict[str, tuple[list[int], list[dict[str, Any]]]]:
    found: dict[str, tuple[list[int], list[dict[str, Any]]]] = {}
    for row in rows:
        if row["route"] != route:
            continue
        levels, points = found.setdefault(row["implementation"], ([], []))
        levels.append(row["concurrency"])
        points.append(row)
    return found


def plot(report: dict[str, Any], folder: Path) -> list[Path]:
    """PNG plots of the run into `folder`; the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if "llm" in report:
        rows = report["llm"]["rows"]
        for key, ylabel, name in (
            ("wall_s", "burst wall time (s)", "llm_wall.png"),
            ("p95_ms", "p95 latency (ms)", "llm_p95.png"),
            ("rps", "answered calls per second", "llm_throughput.png"),
        ):
            figure, axes = plt.subplots(figsize=(7, 4.2))
            for implementation, (levels, points) in _series(rows, "chat").items():
                axes.plot(
                    levels, [p[key] for p in points], marker="o", label=LABELS.get(implementation, implementation)
                )
            for implementation, (levels, points) in _series(rows, "parse").items():
                label = LABELS.get(implementation, implementation) + " (parse)"
                axes.plot(levels, [p[key] for p in points], marker="x", linestyle="--", label=label)
            axes.set_xscale("log")
            axes.set_yscale("log")
            axes.set_xlabel("concurrent calls (one fresh connection each)")
            axes.set_ylabel(ylabel)
            axes.grid(True, which="both", alpha=0.3)
            axes.legend(fontsize=7)
            axes.set_title(f"LLM calls against a {report['sizes']['latency']} s upstream")
            written.append(_save(figure, folder / name))
    if "act" in report:
        rows = report["act"]["rows"]
        workers = sorted({r["workers"] for r in rows})
        figure, axes = plt.subplots(figsize=(6, 4))
        width = 0.38
        for offset, target in ((-width / 2, "bare_quart"), (width / 2, "game_act")):
            values = [next(r["rps"] for r in rows if r["target"] == target and r["workers"] == w) for w in workers]
            axes.bar([w + offset for w in workers], values, width, label=target.replace("_", " "))
        axes.set_xticks(workers, [f"{w} worker{'s' if w > 1 else ''}" for w in workers])
        axes.set_ylabel("requests per second")
        axes.set_title(f"POST /act vs bare Quart JSON route, {report['act']['clients']} keep-alive clients")
        axes.legend()
        written.append(_save(figure, folder / "act_vs_bare.png"))
    if "paced" in report and report["paced"]["histogram_ms"]:
        figure, axes = plt.subplots(figsize=(6, 4))
        curve = report["paced"]["histogram_ms"]
        axes.plot([share * 100 for share, _ in curve], [ms for _, ms in curve])
        axes.axhline(50, color="red", linestyle=":", label="target p95 < 50 ms")
        axes.set_yscale("log")
        axes.set_xlabel("percentile")
        axes.set_ylabel("latency from scheduled time (ms)")
        axes.set_title(f"{report['paced']['players']} paced players, one action a second each, one worker")
        axes.legend()
        written.append(_save(figure, folder / "paced_percentiles.png"))
    if "soak" in report and report["soak"]["rss_samples"]:
        figure, axes = plt.subplots(figsize=(6, 4))
        samples = report["soak"]["rss_samples"]
        axes.plot([s for s, _ in samples], [mb for _, mb in samples])
        axes.set_xlabel("seconds")
        axes.set_ylabel("worker RSS (MB)")
        axes.set_title(f"soak: {report['soak']['actions']} actions")
        written.append(_save(figure, folder / "soak_rss.png"))
    return written


def _save(figure: Any, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def table(columns: list[str], rows: Iterable[Iterable[Any]]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "–" if math.isnan(value) else f"{value:g}" if abs(value) >= 100 else f"{value:.3g}"
    return "–" if value is None else str(value)


def verdict(holds: bool | None) -> str:
    return "–" if holds is None else ("holds" if holds else "**short**")


def targets(report: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(measure, measured, target, verdict) for every target the issue sets that this run measured."""
    found: list[tuple[str, str, str, str]] = []
    llm = report.get("llm")
    if llm:
        top = max(report["sizes"]["levels"])
        ratio = llm["ratios"].get(f"app_async_vs_direct_at_{top}")
        app = next(
            (
                r
                for r in llm["rows"]
                if (r["implementation"], r["route"], r["concurrency"]) == ("app_async", "chat", top)
            ),
            None,
        )
        if ratio is not None and app is not None:
            ok = ratio <= 2.0 and app["errors"] == 0
            found.append(
                (
                    f"{top} concurrent chat calls vs direct",
                    f"{ratio}× ({app['errors']} errors)",
                    "≤ 2.0×, all 200",
                    verdict(ok),
                )
            )
        sync50 = llm["ratios"].get("sync_vs_async_chat_at_50")
        if sync50 is not None:
            found.append(("sync / async wall time, 50 concurrent chat", f"{sync50}×", "≥ 8×", verdict(sync50 >= 8)))
        share = llm["cpu"].get("async_vs_sync")
        if share is not None:
            found.append(("CPU per 1000 LLM calls, async / sync", f"{share}", "≤ 1.20", verdict(share <= 1.2)))
    act = report.get("act")
    if act:
        for name, ratio in act["ratios"].items():
            workers = name.rsplit("_", 2)[1]
            found.append((f"/act vs bare Quart rps, {workers} worker(s)", f"{ratio}", "≥ 0.75", verdict(ratio >= 0.75)))
    paced = report.get("paced")
    if paced:
        ok = paced["p95_ms"] < 50 and paced["errors"] == 0
        measured = f"p95 {paced['p95_ms']} ms, {paced['errors']} errors"
        found.append((f"{paced['players']} paced players, one worker", measured, "p95 < 50 ms, 0 errors", verdict(ok)))
    sequential = report.get("sequential")
    if sequential:
        get = sequential["get"]
        ok = get["p50_ms"] <= 2 and get["p99_ms"] <= 10
        found.append(
            ("sequential keep-alive GET", f"p50 {get['p50_ms']} / p99 {get['p99_ms']} ms", "≤ 2 / ≤ 10 ms", verdict(ok))
        )
    scale = report.get("scale")
    if scale:
        rss = scale["rss_mb_loaded"]["full"]
        found.append(
            (
                f"worker RSS, {scale['players']} players + {scale['tasks']} tasks",
                f"{rss} MB",
                "< 200 MB",
                verdict(rss < 200),
            )
        )
        ratio = scale["p95_full_vs_empty"]
        found.append(
            ("/act p95, full store / empty", f"{ratio}", "≤ 1.20", verdict(ratio is not None and ratio <= 1.2))
        )
    soak = report.get("soak")
    if soak:
        growth = soak["growth_last_half_mb"]
        measured = f"{growth:+} MB over the last half ({soak['ok']} ok, {soak['errors']} errors)"
        found.append(
            (f"soak of {soak['actions']} actions", measured, "≤ 2 MB", verdict(growth <= 2 and soak["errors"] == 0))
        )
    return found


def blocks(report: dict[str, Any], plots: list[Path], docs: Path) -> dict[str, str]:
    """The generated text of each block PERFORMANCE.md carries."""
    meta = report["meta"]
    text: dict[str, str] = {}
    text["run"] = (
        table(
            ["profile", "date (UTC)", "machine", "python", "event loop", "versions"],
            [[meta["profile"], meta["date"], meta["machine"], meta["python"], meta["loop"], meta["versions"]]],
        )
        + f"\n\nCommand: `{meta['command']}` · sizes: `{json.dumps(report['sizes'])}`"
    )
    text["targets"] = table(["measure", "this run", "target", "verdict"], targets(report))
    if "llm" in report:
        rows = [
            [r.get(c) if c != "implementation" else LABELS.get(r[c], r[c]) for c in LLM_COLUMNS]
            for r in report["llm"]["rows"]
        ]
        text["llm"] = table(LLM_COLUMNS, rows)
        cpu = report["llm"]["cpu"]
        text["cpu"] = (
            table(
                ["mode", "answered calls", "server CPU s", "CPU s per 1000 calls"],
                [[m, cpu[m]["calls"], cpu[m]["cpu_s"], cpu[m]["cpu_s_per_1000"]] for m in ("app_async", "app_sync")],
            )
            + f"\n\nasync / sync = **{cpu['async_vs_sync']}** (target ≤ 1.20)"
        )
    if "act" in report:
        columns = ["target", "workers", "rps", "p50_ms", "p95_ms", "p99_ms", "errors", "server_cpu_s"]
        text["act"] = table(columns, [[r.get(c) for c in columns] for r in report["act"]["rows"]])
        committed = [r.get("committed_versions") for r in report["act"]["rows"] if r["target"] == "game_act"]
        text["act"] += (
            f"\n\nratios: `{json.dumps(report['act']['ratios'])}` · versions committed during each game run"
            f" (warm-up included): {committed}"
        )
    if "paced" in report:
        p = report["paced"]
        text["paced"] = table(LATENCY_COLUMNS, [[p.get(c) for c in LATENCY_COLUMNS]])
    if "sequential" in report:
        s = report["sequential"]
        text["sequential"] = table(
            ["request", *LATENCY_COLUMNS], [[n, *[s[n].get(c) for c in LATENCY_COLUMNS]] for n in ("get", "act")]
        )
    if "scale" in report:
        s = report["scale"]
        text["scale"] = (
            table(
                ["store", "worker RSS idle MB", "worker RSS after load MB", "/act p95 ms (median of rounds)"],
                [[n, s["rss_mb_idle"][n], s["rss_mb_loaded"][n], s["p95_ms"][n]] for n in ("empty", "full")],
            )
            + f"\n\nfull store: {s['players']} players (each acted once: {s['touch']['ok']} ok)"
            + f" and {s['tasks']} finished tasks"
        )
    if "soak" in report:
        s = report["soak"]
        text["soak"] = table(
            ["actions", "ok", "errors", "rps", "p95_ms", "RSS middle MB", "RSS end MB", "growth MB"],
            [
                [
                    s["actions"],
                    s["ok"],
                    s["errors"],
                    s["rps"],
                    s["p95_ms"],
                    s["rss_mb_middle"],
                    s["rss_mb_end"],
                    s["growth_last_half_mb"],
                ]
            ],
        )
    else:
        text["soak"] = "_Not run in this profile (`make bench` runs it; `BENCH_SOAK_ACTIONS` sizes it)._"
    text["plots"] = "\n\n".join(f"![{p.stem}]({p.relative_to(docs.parent).as_posix()})" for p in plots)
    return text


SKELETON = (
    "# Performance\n\n"
    + "\n\n".join(f"## {name}\n\n<!-- bench:{name} -->\n<!-- /bench:{name} -->" for name in BLOCKS)
    + "\n"
)


def render(report: dict[str, Any], plots: list[Path], docs: Path) -> None:
    """Rewrite the generated blocks of `docs` (created from a skeleton when missing)."""
    document = docs.read_text() if docs.exists() else SKELETON
    for name, body in blocks(report, plots, docs).items():
        pattern = re.compile(rf"(<!-- bench:{name} -->\n).*?(<!-- /bench:{name} -->)", re.S)
        document = pattern.sub(lambda match, body=body: match.group(1) + body + "\n" + match.group(2), document)
    docs.write_text(document)
