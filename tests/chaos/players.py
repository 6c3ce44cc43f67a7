"""Players under chaos: each plays one action at a time, every action under its own Idempotency-Key, and the
ledger keeps every answer the service acknowledged (200) — what must be in the store at the end.

A player's client opens a fresh connection per request (no keep-alive), so a connection closed without an
answer always means a request the server had accepted. It retries an action with the same key until it is
answered: a refused connection (an instance restarting) goes to the next instance; a connection closed with
no answer is noted, with when it happened, and retried (the key makes that safe).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

#: Safe everywhere in the world, cheap for the engine, and the LLM parser is asked about each of them.
TEXTS = ("打坐修炼", "看看四周", "去坊市", "回主城", "查看状态", "看看背包", "探索一番", "休息一下")


@dataclass(frozen=True)
class Player:
    id: str
    token: str
    home: int  # the instance it starts on


@dataclass(frozen=True)
class Ack:
    """One acknowledged action: its key and the answer the service gave."""

    key: str
    answer: dict[str, Any]


@dataclass(frozen=True)
class Cut:
    """A request that was sent and closed without an answer: when, and how."""

    started: float
    ended: float
    error: str
    request_id: str  # sent as X-Request-ID: the instance's log lines of this attempt carry it


@dataclass
class Ledger:
    """Every acknowledged action per player, and every way an attempt went wrong."""

    acks: dict[str, list[Ack]] = field(default_factory=dict)
    keys: Counter[str] = field(default_factory=Counter)  # Idempotency-Keys each player used
    refused: int = 0  # connection refused: nobody listening (an instance between SIGTERM and its restart)
    cuts: list[Cut] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # answers other than 200
    parsers: Counter[str] = field(default_factory=Counter)
    degraded: int = 0
    replayed: int = 0  # answers replayed from the key (the first try was applied but its answer lost)

    @property
    def acknowledged(self) -> int:
        return sum(len(acks) for acks in self.acks.values())


async def create_players(client: httpx.AsyncClient, urls: list[str], count: int) -> list[Player]:
    players = []
    for i in range(count):
        home = i % len(urls)
        answer = await client.post(f"{urls[home]}/api/players", json={"name": f"劫修{i}"})
        answer.raise_for_status()
        body = answer.json()
        players.append(Player(body["player"]["id"], body["token"], home))
    return players


async def play(client: httpx.AsyncClient, urls: list[str], player: Player, ledger: Ledger, stop: asyncio.Event) -> None:
    """Act until `stop` is set; the action under way when it is set still runs to its answer."""
    acks = ledger.acks.setdefault(player.id, [])
    instance = player.home
    number = 0
    while not stop.is_set():
        key = f"{player.id}-{number}"
        text = TEXTS[(number + len(player.id)) % len(TEXTS)]
        ledger.keys[player.id] += 1
        try:
            answer, instance = await _until_answered(client, urls, instance, player, key, text, ledger)
        except httpx.TimeoutException as exc:
            ledger.failed.append(f"{type(exc).__name__} after the client's timeout")
            number += 1
            continue
        if answer.status_code == 200:
            body = answer.json()
            acks.append(Ack(key, body))
            ledger.parsers[body.get("parser", "?")] += 1
            ledger.degraded += bool(body.get("degraded"))
            ledger.replayed += answer.headers.get("Idempotent-Replayed") == "true"
        else:
            ledger.failed.append(f"{answer.status_code} {answer.text[:200]}")
        number += 1


async def _until_answered(
    client: httpx.AsyncClient, urls: list[str], instance: int, player: Player, key: str, text: str, ledger: Ledger
) -> tuple[httpx.Response, int]:
    headers = {"Authorization": f"Bearer {player.token}", "Idempotency-Key": key}
    path = f"/api/players/{player.id}/act"
    for attempt in range(100_000):  # bounded; an instance that never comes back ends the run by its own timeout
        started = time.monotonic()
        headers["X-Request-ID"] = f"{key}.{attempt}"
        try:
            return await client.post(f"{urls[instance]}{path}", json={"text": text}, headers=headers), instance
        except httpx.ConnectError:
            ledger.refused += 1
            instance = (instance + 1) % len(urls)
            await asyncio.sleep(0.05)
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            ledger.cuts.append(Cut(started, time.monotonic(), type(exc).__name__, headers["X-Request-ID"]))
    raise RuntimeError(f"action {key} was never answered")
