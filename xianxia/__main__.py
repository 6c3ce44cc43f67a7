"""Command line: `serve`, `replay PLAYER_ID`, `check-world [DIR]`, `mode [MODE]`."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path

import httpx

from xianxia.config import LLM_MODES, Settings
from xianxia.game.errors import PlayerNotFound
from xianxia.game.replay import replay_player
from xianxia.logs import configure_logging
from xianxia.metrics import MULTIPROC_ENV
from xianxia.serve.supervisor import serve
from xianxia.serve.worker import DEFAULT_APP
from xianxia.store.factory import create_store
from xianxia.world import WorldError, load_world


async def _replay(player_id: str, settings: Settings) -> int:
    world = load_world(settings.world_dir)
    store = create_store(settings.database_url)
    await store.open()
    try:
        report = await replay_player(store, world, player_id)
    except PlayerNotFound:
        print(json.dumps({"error": f"no player with id {player_id!r}"}, ensure_ascii=False))
        return 2
    finally:
        await store.close()
    print(
        json.dumps(
            {
                "player_id": report.player_id,
                "actions": report.actions,
                "stored_version": report.stored_version,
                "replayed_version": report.replayed_version,
                "reproduced": report.reproduced,
                "differences": {k: {"stored": a, "replayed": b} for k, (a, b) in report.differences.items()},
            },
            ensure_ascii=False,
            indent=2,
        )
    )
    return 0 if report.reproduced else 1


def _prepare_metrics_dir() -> str:
    """A fresh shared directory for the workers' metrics, set before any worker starts."""
    directory = os.environ.get(MULTIPROC_ENV) or tempfile.mkdtemp(prefix="xianxia-metrics-")
    Path(directory).mkdir(parents=True, exist_ok=True)
    # Only the sample files of an earlier run go; whatever else lives there is not ours to delete.
    for stale in Path(directory).glob("*.db"):
        stale.unlink(missing_ok=True)
    os.environ[MULTIPROC_ENV] = directory
    return directory


def _serve(args: argparse.Namespace) -> int:
    """Supervise hypercorn workers on one bound socket (workers inherit the environment set here)."""
    settings = Settings.from_env()
    configure_logging(settings.log_level, settings.log_json)
    _prepare_metrics_dir()
    return serve(args.host, args.port, args.workers, args.app, settings)


def _mode(args: argparse.Namespace, settings: Settings) -> int:
    """Read or switch the live LLM mode through the admin API."""
    if settings.admin_token is None:
        print("XIANXIA_ADMIN_TOKEN is not set", file=sys.stderr)
        return 2
    headers = {"Authorization": f"Bearer {settings.admin_token}"}
    url = f"{args.url.rstrip('/')}/api/admin/mode"
    try:
        if args.mode is None:
            response = httpx.get(url, headers=headers, timeout=10)
        else:
            body: dict[str, object] = {"mode": args.mode, "reason": args.reason}
            if args.share is not None:
                body["share"] = args.share
            response = httpx.put(url, headers=headers, json=body, timeout=10)
    except httpx.HTTPError as exc:
        print(f"cannot reach {url}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(response.json(), ensure_ascii=False))
    return 0 if response.is_success else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="xianxia", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the game: N hypercorn workers that drain on SIGTERM")
    serve.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    serve.add_argument("--workers", type=int, default=int(os.environ.get("WORKERS", "1")))
    serve.add_argument("--app", default=DEFAULT_APP, help="ASGI app to serve, module:attribute or module:factory()")
    replay = commands.add_parser("replay", help="re-run a player's log from its seed; exit 0 if it reproduces")
    replay.add_argument("player_id")
    check = commands.add_parser("check-world", help="validate a world directory")
    check.add_argument("directory", nargs="?")
    mode = commands.add_parser("mode", help="show or switch the live LLM mode (admin API)")
    mode.add_argument("mode", nargs="?", choices=LLM_MODES)
    mode.add_argument("--url", default=os.environ.get("ADMIN_URL", "http://127.0.0.1:8000"))
    mode.add_argument("--reason", default="make mode")
    mode.add_argument("--share", type=float, help="in mode async: the share of players on the async path (0..1)")
    args = parser.parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    settings = Settings.from_env()
    if args.command == "replay":
        return asyncio.run(_replay(args.player_id, settings))
    if args.command == "mode":
        return _mode(args, settings)
    try:
        world = load_world(args.directory or settings.world_dir)
    except WorldError as exc:
        print(f"invalid world: {exc}", file=sys.stderr)
        return 1
    print(f"world ok: {len(world.scenes)} scenes, {len(world.realms)} realms, {len(world.laws)} laws")
    return 0


if __name__ == "__main__":
    sys.exit(main())
