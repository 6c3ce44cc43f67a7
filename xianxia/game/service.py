"""The game service: parse, apply, persist — one player's actions one at a time."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

import structlog

from xianxia.engine import ParsedIntent, PlayerState, action_rng, apply_action, laws_in_force, new_player
from xianxia.engine.intents import IntentParser, ParseContext, ParseResult
from xianxia.engine.outcome import Outcome
from xianxia.game.errors import ActionContention, IdempotencyKeyReused, PlayerNotFound
from xianxia.game.locks import KeyedLocks
from xianxia.game.views import action_view, player_view
from xianxia.store.base import (
    ActionRecord,
    DuplicateIdempotencyKey,
    LogEntry,
    PlayerRecord,
    Store,
    VersionConflict,
)
from xianxia.world import World

log = structlog.get_logger(__name__)

#: How often an action is recomputed when another worker changed the player meanwhile.
MAX_CONFLICT_RETRIES = 8
#: Players a worker keeps as it last committed them; each is a few kilobytes.
RECENT_PLAYERS = 2048


class Dialogue(Protocol):
    """NPC dialogue through the LLM: a line for a carried-out `talk` (None keeps the canned line)."""

    async def __call__(self, state: PlayerState, outcome: Outcome, text: str | None) -> str | None: ...

    def remember(self, state: PlayerState, outcome: Outcome, text: str | None, line: str) -> None:
        """Keep the exchange for the NPC's memory; called only once the action is committed."""

    async def stream(
        self, state: PlayerState, outcome: Outcome, text: str | None, emit: Callable[[str], None]
    ) -> str | None:
        """The same line, each piece handed to `emit` as it is written; the line is exactly what was emitted."""


#: Told of every committed action (metrics).
ActionObserver = Callable[[Outcome, ParseResult], None]


def law_summaries(world: World, scene_id: str | None) -> tuple[str, ...]:
    """Short summaries of the laws a player in this scene can run into, for the parser's context."""
    return tuple(f"{law.id}: {law.reason}" for law in laws_in_force(world, scene_id))


def request_fingerprint(text: str | None, intent: ParsedIntent | None) -> str:
    """What an Idempotency-Key promises to stand for: the same text or the same intent and slots."""
    payload = {"text": text, "intent": intent.intent if intent else None, "slots": intent.slots if intent else None}
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


def logged_outcome(before: PlayerState, outcome: Outcome, body: dict[str, Any]) -> dict[str, Any]:
    """What the log keeps of an outcome, with the rules version it was applied under (and upgraded from)."""
    logged: dict[str, Any] = {
        "allowed": outcome.allowed,
        "narration": outcome.narration,
        "events": body["events"],
        "version": outcome.state.version,
        "rules": outcome.state.rules,
    }
    if before.rules != outcome.state.rules:
        logged["upgraded_from"] = before.rules
    return logged


def hash_token(token: str) -> str:
    """The stored form of a player token."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ActionAnswer:
    """An action's answer and whether it was replayed from an idempotency key."""

    body: dict[str, Any]
    replayed: bool = False


class GameService:
    """Creates players, authenticates them and runs their actions durably."""

    def __init__(
        self,
        world: World,
        store: Store,
        parser: IntentParser,
        *,
        dialogue: Dialogue | None = None,
        observe: ActionObserver | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.world = world
        self.store = store
        self.parser = parser
        self.dialogue = dialogue
        self._observe = observe
        self._clock = clock
        self._locks = KeyedLocks()
        # Players as this worker last committed them, newest last (see `recent_player`).
        self._recent: OrderedDict[str, PlayerRecord] = OrderedDict()

    async def create_player(self, name: str) -> tuple[PlayerState, str]:
        """A new player with a fresh seed, and its bearer token (shown once)."""
        token = secrets.token_urlsafe(32)
        state = new_player(self.world, secrets.token_hex(8), name, secrets.randbits(48))
        await self.store.create_player(state, hash_token(token))
        log.info("player_created", player_id=state.id, root=state.root)
        return state, token

    async def get_player(self, player_id: str) -> PlayerRecord:
        record = await self.store.get_player(player_id)
        if record is None:
            raise PlayerNotFound(player_id)
        return record

    async def recent_player(self, player_id: str) -> PlayerRecord:
        """The player as this worker last committed it, else as stored: for `act` alone, which may start
        from a stale record because its version-guarded commit catches a change made elsewhere (another
        worker, another instance) and redoes the action on a fresh read."""
        record = self._recent.get(player_id)
        if record is None:
            return await self.get_player(player_id)
        self._recent.move_to_end(player_id)
        return record

    def _remember(self, record: PlayerRecord) -> None:
        self._recent[record.state.id] = record
        self._recent.move_to_end(record.state.id)
        while len(self._recent) > RECENT_PLAYERS:
            self._recent.popitem(last=False)

    @staticmethod
    def token_matches(record: PlayerRecord, token: str) -> bool:
        """Constant-time comparison of a presented token with the stored hash."""
        return hmac.compare_digest(hash_token(token), record.token_hash)

    def context_for(self, state: PlayerState) -> ParseContext:
        """What the parsers may know of where the player stands."""
        return ParseContext(
            scene=state.location, realm=state.realm, laws=law_summaries(self.world, state.location), player_id=state.id
        )

    async def act(
        self,
        player_id: str,
        *,
        text: str | None = None,
        intent: ParsedIntent | None = None,
        idempotency_key: str | None = None,
        known: PlayerRecord | None = None,
        on_narration: Callable[[str], None] | None = None,
    ) -> ActionAnswer:
        """Parse and apply one action, persisting it before answering.

        `known` is the player as the caller just read it (for authentication); it saves a read, and
        if it went stale meanwhile the commit's version check catches that and the action is redone.
        `on_narration` is told an NPC's LLM line piece by piece as it is written (the streamed `/act`);
        the committed narration is exactly those pieces.
        """
        fingerprint = request_fingerprint(text, intent)
        if (replayed := await self._replayed(player_id, idempotency_key, fingerprint)) is not None:
            return replayed
        async with self._locks.hold(player_id):
            parsed: ParseResult | None = None
            parsed_for: ParseContext | None = None
            spoken: dict[str, str] = {}  # one LLM line per NPC, reused if the commit has to be redone
            # A record the caller passed in may be stale (read before the lock, or this worker's last
            # commit): its conflict does not count against the retries.
            for _attempt in range(MAX_CONFLICT_RETRIES + (known is not None)):
                record = known if known is not None else await self.get_player(player_id)
                known = None
                if (replayed := await self._replayed(player_id, idempotency_key, fingerprint)) is not None:
                    return replayed
                context = self.context_for(record.state)
                if parsed is None or context != parsed_for:
                    # Parse once; only a move made meanwhile by another worker changes what the words mean.
                    parsed, parsed_for = await self._parse(context, text, intent), context
                outcome = apply_action(self.world, record.state, parsed.intent, action_rng(record.state))
                line = await self._dialogue_line(record.state, outcome, text, spoken, on_narration)
                if line:
                    outcome = outcome.model_copy(update={"narration": line})
                body = action_view(self.world, parsed, outcome)
                try:
                    await self.store.commit_action(
                        self._record(record, text, parsed, outcome, body, idempotency_key, fingerprint)
                    )
                except VersionConflict:
                    self._recent.pop(player_id, None)
                    log.info("action_conflict", player_id=player_id, actions=record.actions)
                    continue
                except DuplicateIdempotencyKey:
                    # Another worker committed this key first: answer what it answered.
                    self._recent.pop(player_id, None)
                    replayed = await self._replayed(player_id, idempotency_key, fingerprint)
                    if replayed is None:  # pragma: no cover - the key was just reported as taken
                        raise
                    return replayed
                except BaseException:
                    self._recent.pop(player_id, None)  # committed or not, the store knows; the next act reads it
                    raise
                self._remember(replace(record, state=outcome.state, actions=record.actions + 1))
                if line and self.dialogue is not None:
                    self.dialogue.remember(record.state, outcome, text, line)
                # Carried by the request's own log line: one line per action, not two.
                structlog.contextvars.bind_contextvars(
                    player_id=player_id,
                    intent=outcome.intent.intent,
                    allowed=outcome.allowed,
                    law=outcome.intent.law,
                    parser=parsed.parser,
                    version=outcome.state.version,
                )
                if self._observe is not None:
                    self._observe(outcome, parsed)
                return ActionAnswer(body)
        raise ActionContention(player_id)

    async def _replayed(self, player_id: str, key: str | None, fingerprint: str) -> ActionAnswer | None:
        """The stored answer of an Idempotency-Key, if it was used; a key reused for another request is refused."""
        if key is None:
            return None
        stored = await self.store.get_idempotent(player_id, key)
        if stored is None:
            return None
        if stored.get("fingerprint") != fingerprint:
            raise IdempotencyKeyReused(key)
        answer: dict[str, Any] = stored["answer"]
        return ActionAnswer(answer, replayed=True)

    async def _dialogue_line(
        self,
        state: PlayerState,
        outcome: Outcome,
        text: str | None,
        spoken: dict[str, str],
        on_narration: Callable[[str], None] | None = None,
    ) -> str | None:
        """The NPC's LLM line for a carried-out `talk`, asked once per action even if the commit is redone."""
        if self.dialogue is None or not outcome.allowed or outcome.intent.intent != "talk":
            return None
        npc = outcome.intent.slot("target") or ""
        if npc not in spoken:
            if on_narration is not None:
                line = await self.dialogue.stream(state, outcome, text, on_narration)
            else:
                line = await self.dialogue(state, outcome, text)
            spoken[npc] = line or ""  # a miss is remembered too: one LLM call per action, even if redone
        return spoken[npc] or None

    async def _parse(self, context: ParseContext, text: str | None, intent: ParsedIntent | None) -> ParseResult:
        if intent is not None:
            return ParseResult(intent=intent, parser="rules")
        return await self.parser.parse(text or "", context)

    def _record(
        self,
        record: PlayerRecord,
        text: str | None,
        parsed: ParseResult,
        outcome: Outcome,
        body: dict[str, Any],
        idempotency_key: str | None,
        fingerprint: str,
    ) -> ActionRecord:
        return ActionRecord(
            player_id=record.state.id,
            expected_version=record.state.version,
            expected_actions=record.actions,
            state=outcome.state,
            text=text,
            intent=outcome.intent.model_dump(),
            parser=parsed.parser,
            outcome=logged_outcome(record.state, outcome, body),
            response={"fingerprint": fingerprint, "answer": body},
            idempotency_key=idempotency_key,
            created_at=self._clock(),
        )

    async def action_log(self, player_id: str, after_seq: int = 0, limit: int = 1000) -> list[LogEntry]:
        await self.get_player(player_id)
        return await self.store.action_log(player_id, after_seq=after_seq, limit=limit)

    def view(self, state: PlayerState) -> dict[str, Any]:
        return player_view(self.world, state)
