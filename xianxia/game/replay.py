"""Re-run a player's action log from its seed and compare with the stored state.

Each log entry says which rules version applied it (`outcome.rules`; an entry without one is of rules 1).
Entries of older rules are re-run by the frozen engine of those rules (`xianxia.legacy`), and the state is
handed on to the current engine at the first newer entry, which upgrades it exactly as the live service did.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from xianxia.engine import RULES_VERSION, ParsedIntent, PlayerState, action_rng, apply_action, new_player
from xianxia.game.errors import PlayerNotFound
from xianxia.legacy.rules1 import engine as rules1
from xianxia.legacy.rules1.world import World as Rules1World
from xianxia.legacy.rules1.world import load_world as loadrules1_world
from xianxia.store.base import LogEntry, Store
from xianxia.world import World

PAGE = 1000
#: Rules versions replayed by a frozen engine rather than the current one.
LEGACY_RULES = frozenset({1}) - {RULES_VERSION}


class ReplayError(ValueError):
    """The log cannot be replayed: an entry names rules this build does not know."""


@dataclass(frozen=True, slots=True)
class ReplayReport:
    """Whether the replayed state equals the stored one, and which fields differ."""

    player_id: str
    actions: int
    stored_version: int
    replayed_version: int
    differences: dict[str, tuple[object, object]] = field(default_factory=dict)

    @property
    def reproduced(self) -> bool:
        return not self.differences


def entry_rules(entry: LogEntry) -> int:
    """The rules version an entry was applied under; entries logged before versions were recorded are rules 1."""
    rules = entry.outcome.get("rules", 1) if isinstance(entry.outcome, dict) else 1
    return rules if isinstance(rules, int) else 1


def _starting_rules(stored: PlayerState, entries: Sequence[LogEntry]) -> int:
    """The rules the player was created under: the first entry's (or what it was upgraded from)."""
    if not entries:
        return stored.rules
    first = entries[0]
    upgraded_from = first.outcome.get("upgraded_from") if isinstance(first.outcome, dict) else None
    return upgraded_from if isinstance(upgraded_from, int) else entry_rules(first)


def _intent(entry: LogEntry) -> ParsedIntent:
    return ParsedIntent(intent=entry.intent["intent"], slots=entry.intent.get("slots", {}))


RULES1_WORLD_CACHE: list[Rules1World] = []


def rules1_world() -> Rules1World:
    """The bundled world as rules 1 knew it, loaded on first need."""
    if not RULES1_WORLD_CACHE:
        RULES1_WORLD_CACHE.append(loadrules1_world())
    return RULES1_WORLD_CACHE[0]


def _handed_on(legacy: rules1.PlayerState | None) -> PlayerState:
    """A rules-1 state as the current engine reads a stored one: its fields as they are (rules 1)."""
    if legacy is None:  # pragma: no cover - one of the two states is always set
        raise ReplayError("no state to hand on")
    return PlayerState.model_validate(legacy.model_dump())


def replay_entries(world: World, stored: PlayerState, entries: Sequence[LogEntry]) -> ReplayReport:
    """Replay logged intents, in order, from a fresh player with the stored seed."""
    ordered = sorted(entries, key=lambda e: e.seq)
    start = _starting_rules(stored, ordered)
    legacy: rules1.PlayerState | None = None
    current: PlayerState | None = None
    if start in LEGACY_RULES:
        legacy = rules1.new_player(rules1_world(), stored.id, stored.name, stored.seed)
    else:
        current = new_player(world, stored.id, stored.name, stored.seed)
    for entry in ordered:
        rules = entry_rules(entry)
        if rules in LEGACY_RULES:
            if legacy is None:
                raise ReplayError(f"entry {entry.seq}: rules {rules} after a newer entry")
            intent = rules1.ParsedIntent(intent=entry.intent["intent"], slots=entry.intent.get("slots", {}))
            legacy = rules1.apply_action(rules1_world(), legacy, intent, rules1.action_rng(legacy)).state
            continue
        if rules != RULES_VERSION:
            raise ReplayError(f"entry {entry.seq}: unknown rules version {rules}")
        if current is None:
            current, legacy = _handed_on(legacy), None
        current = apply_action(world, current, _intent(entry), action_rng(current)).state
    final = current if current is not None else _handed_on(legacy)
    expected, got = stored.model_dump(), final.model_dump()
    differences = {key: (expected[key], got.get(key)) for key in expected if expected[key] != got.get(key)}
    return ReplayReport(
        player_id=stored.id,
        actions=len(ordered),
        stored_version=stored.version,
        replayed_version=final.version,
        differences=differences,
    )


async def replay_player(store: Store, world: World, player_id: str) -> ReplayReport:
    """Replay every logged intent of a stored player and compare with its stored state."""
    record = await store.get_player(player_id)
    if record is None:
        raise PlayerNotFound(player_id)
    entries: list[LogEntry] = []
    after = 0
    while True:
        page = await store.action_log(player_id, after_seq=after, limit=PAGE)
        entries.extend(page)
        if len(page) < PAGE:
            break
        after = page[-1].seq
    return replay_entries(world, record.state, entries)
