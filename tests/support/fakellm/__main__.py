"""`python -m tests.support.fakellm --port 9000 --latency 1.0 --fault server_error=0.2`: serve until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import resource
import signal
import sys
from pathlib import Path

import structlog

from tests.support.fakellm.faults import FAULTS, FaultPlan, fault_named, parse_fault_option
from tests.support.fakellm.server import FakeConfig, running_fake
from xianxia.logs import configure_logging

log = structlog.get_logger("tests.support.fakellm")


def build_config(argv: list[str] | None = None) -> tuple[FakeConfig, str]:
    """The config the command line asks for, and the log level."""
    parser = argparse.ArgumentParser(prog="python -m tests.support.fakellm", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000, help="0 picks a free port (printed when ready)")
    parser.add_argument("--key", default=None, help="the API key to accept (default: any non-empty key)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument(
        "--fault", action="append", default=[], metavar="NAME=RATE", help=f"fault rate; faults: {', '.join(FAULTS)}"
    )
    parser.add_argument("--next", action="append", default=[], metavar="NAME", help="fault for the next request")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault draws")
    parser.add_argument("--world", type=Path, default=None, help="world directory the fake reads utterances with")
    parser.add_argument(
        "--contrary", action="store_true", help="answer parse prompts with another valid intent than the faithful one"
    )
    parser.add_argument("--slow-seconds", type=float, default=60.0)
    parser.add_argument("--trickle-seconds", type=float, default=300.0)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    try:
        plan = FaultPlan(
            latency=args.latency,
            faults=dict(parse_fault_option(option) for option in args.fault),
            next=tuple(fault_named(name) for name in args.next),
            seed=args.seed,
        )
        config = FakeConfig(
            host=args.host,
            port=args.port,
            key=args.key or None,
            plan=plan,
            world_dir=args.world,
            reading="contrary" if args.contrary else "faithful",
            slow_seconds=args.slow_seconds,
            trickle_seconds=args.trickle_seconds,
        )
    except ValueError as exc:  # pydantic's ValidationError is a ValueError too
        parser.error(str(exc))
    return config, args.log_level


async def serve(config: FakeConfig) -> None:
    """Serve until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with running_fake(config) as fake:
        # The one line on stdout: scripts and tests wait for it, and read the port from it.
        print(f"fakellm listening on {fake.base_url}", flush=True)
        log.info("fakellm_started", url=fake.base_url, plan=config.plan.model_dump(mode="json"))
        await stop.wait()
        log.info("fakellm_stopping")


def raise_open_file_limit(wanted: int = 65536) -> None:
    """Lift the soft descriptor limit toward the hard one: 1000+ open connections overrun the common 1024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def main(argv: list[str] | None = None) -> int:
    config, log_level = build_config(argv)
    configure_logging(log_level)
    raise_open_file_limit()
    asyncio.run(serve(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
