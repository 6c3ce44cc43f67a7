"""After the run: the ledger against the store, read directly (not through the service that was disrupted)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

from tests.chaos.players import Ledger
from xianxia.game.replay import replay_player
from xianxia.store.factory import create_store
from xianxia.world import load_world


@dataclass
class Verdict:
    """What the store says about the acknowledged actions."""

    players: int = 0
    log_entries: int = 0
    lost: list[str] = field(default_factory=list)  # acknowledged keys with no stored answer, or another answer
    applied_twice: list[str] = field(default_factory=list)  # players with more log entries than actions asked
    replay_differs: list[str] = field(default_factory=list)
    integrity: str = "n/a"


def _same(stored: dict[str, Any] | None, answer: dict[str, Any]) -> bool:
    """The stored answer of a key is the one the client was given (narration, intent and the player it left)."""
    if stored is None:
        return False
    first = stored.get("answer", stored)
    return all(first.get(part) == answer.get(part) for part in ("narration", "intent", "player"))


async def verify(database_url: str, ledger: Ledger) -> Verdict:
    """Every acknowledged answer is stored under its key; no player has more log entries than keys it used."""
    verdict = Verdict()
    store = create_store(database_url)
    world = load_world()
    await store.open()
    try:
        for player_id, acks in ledger.acks.items():
            verdict.players += 1
            entries = len(await store.action_log(player_id, limit=1_000_000))
            verdict.log_entries += entries
            for ack in acks:
                if not _same(await store.get_idempotent(player_id, ack.key), ack.answer):
                    verdict.lost.append(ack.key)
            if entries > ledger.keys[player_id]:
                verdict.applied_twice.append(player_id)
            report = await replay_player(store, world, player_id)
            if not report.reproduced:
                verdict.replay_differs.append(f"{player_id}: {report.differences}")
    finally:
        await store.close()
    if database_url.startswith("sqlite:///"):
        verdict.integrity = sqlite_integrity(database_url.removeprefix("sqlite:///").split("?", 1)[0])
    return verdict


def sqlite_integrity(path: str) -> str:
    """`PRAGMA integrity_check` of the game's file once every instance has stopped ('ok' when sound)."""
    connection = sqlite3.connect(path)
    try:
        rows = connection.execute("PRAGMA integrity_check").fetchall()
    finally:
        connection.close()
    return "; ".join(str(row[0]) for row in rows)
