"""Re-run a player's action log from its seed and compare with the stored state."""

from __future__ import annotations

from dataclasses import dataclass, field

from xianxia.engine import ParsedIntent, new_player, replay
from xianxia.game.errors import PlayerNotFound
from xianxia.store.base import Store
from xianxia.world import World

PAGE = 1000


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


async def replay_player(store: Store, world: World, player_id: str) -> ReplayReport:
    """Replay every logged intent from a fresh player with the stored seed."""
    record = await store.get_player(player_id)
    if record is None:
        raise PlayerNotFound(player_id)
    stored = record.state
    intents: list[ParsedIntent] = []
    after = 0
    while True:
        page = await store.action_log(player_id, after_seq=after, limit=PAGE)
        intents.extend(
            ParsedIntent(intent=entry.intent["intent"], slots=entry.intent.get("slots", {})) for entry in page
        )
        if len(page) < PAGE:
            break
        after = page[-1].seq
    initial = new_player(world, stored.id, stored.name, stored.seed)
    final = replay(world, initial, intents)
    expected, got = stored.model_dump(), final.model_dump()
    differences = {key: (expected[key], got.get(key)) for key in expected if expected[key] != got.get(key)}
    return ReplayReport(
        player_id=player_id,
        actions=len(intents),
        stored_version=stored.version,
        replayed_version=final.version,
        differences=differences,
    )
