"""The world's memo never changes an answer, and never grows from what a player makes up.

Every scene × every realm of the shipped world, for a few kinds of player, is asked of a world that remembers
(asked twice, the second time from its memo) and of one that forgets everything (the engine as it was before
there was a memo): suggestions, outcomes and the JSON answer must be the same.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Hashable, Iterator
from random import Random
from typing import Any

import pytest

from tests.engine.helpers import WORLD
from xianxia.engine import ParsedIntent, PlayerState, apply_action, new_player, suggestions_here
from xianxia.engine.intents import ParseResult
from xianxia.engine.laws import _may_forbid, forbids
from xianxia.engine.state import Fight, QuestProgress
from xianxia.engine.vitals import qi_capacity
from xianxia.game.views import action_view
from xianxia.world import World
from xianxia.world.loader import MEMO_LIMIT

#: What a player (or a parser that trusts one) can put in slots: none of it names anything of the world.
JUNK = ["", "nowhere", "x" * 64, "DROP TABLE", "主城", "yelang ", "../etc", "🐉"]


class _Forgetful(dict[Hashable, Any]):
    """A memo that stores nothing: every `memoised` call computes afresh."""

    def __setitem__(self, key: Hashable, value: Any) -> None:
        return None


def remembering() -> World:
    """The shipped world with an empty memo of its own."""
    return dataclasses.replace(WORLD)


def forgetting() -> World:
    world = dataclasses.replace(WORLD)
    object.__setattr__(world, "memo", _Forgetful())
    return world


def kinds_of_player(scene_id: str, realm_id: str) -> Iterator[tuple[str, PlayerState]]:
    """A fresh player, a rich one with a full bag, one in a fight, one with full qi, one at a realm's last stage."""
    realm = WORLD.realm(realm_id)
    fresh = new_player(WORLD, "p", "道友", 7).model_copy(update={"location": scene_id, "realm": realm_id})
    yield "fresh", fresh
    everything = dict.fromkeys(WORLD.items, 2)
    rich = fresh.model_copy(
        update={
            "inventory": everything,
            "spirit_stones": 1000,
            "hp": 40,
            "equipment": {"weapon": "tiejian"},
            "quests": {"qingjiao": QuestProgress(count=1), "caiyao": QuestProgress(done=True)},
        }
    )
    yield "rich", rich
    for monster_id in WORLD.scenes[scene_id].monsters or ("yelang",):
        fight = Fight(monster=monster_id, monster_hp=WORLD.monsters[monster_id].hp, round=1)
        yield f"fighting {monster_id}", rich.model_copy(update={"fight": fight})
    yield "qi full", fresh.model_copy(update={"qi": qi_capacity(WORLD, fresh)})
    peak = fresh.model_copy(update={"stage": realm.stages, "hp": 1, "attack": 200, "defense": 100})
    yield "last stage, hurt", peak.model_copy(update={"qi": qi_capacity(WORLD, peak)})


def every_case() -> Iterator[tuple[str, PlayerState]]:
    for scene_id in WORLD.scenes:
        for realm in WORLD.realms:
            for kind, state in kinds_of_player(scene_id, realm.id):
                yield f"{scene_id}/{realm.id}/{kind}", state


def intents_for(world: World, state: PlayerState) -> list[ParsedIntent]:
    """Everything worth trying here: every suggestion, every entity of the world by name, the slot-less intents."""
    found = [ParsedIntent(intent=s.intent, slots=s.slots) for s in suggestions_here(world, state)]
    found += [ParsedIntent(intent=name) for name in world.intents]
    scene = world.scenes[state.location]
    found += [ParsedIntent(intent="move", slots={"target": e}) for e in scene.exits]
    found += [ParsedIntent(intent="attack", slots={"target": m}) for m in world.monsters]
    found += [ParsedIntent(intent="examine", slots={"target": t}) for t in (*scene.npcs, *scene.monsters)]
    for verb in ("use_item", "sell", "buy", "equip", "examine"):
        found += [ParsedIntent(intent=verb, slots={"item": i}) for i in world.items]
    return found


def body(world: World, state: PlayerState, intent: ParsedIntent) -> str:
    """The JSON answer of /act, as the service builds it, and the new state."""
    outcome = apply_action(world, state, intent, Random(11))
    answer = action_view(world, ParseResult(intent=intent, parser="rules"), outcome)
    return json.dumps([answer, outcome.state.model_dump()], ensure_ascii=False)


CASES = list(every_case())


def test_the_cases_cover_every_scene_and_realm() -> None:
    covered = {tuple(name.split("/")[:2]) for name, _ in CASES}
    assert covered == {(s, r.id) for s in WORLD.scenes for r in WORLD.realms}


def test_memoised_suggestions_are_what_a_forgetful_world_computes() -> None:
    memo, fresh = remembering(), forgetting()
    for name, state in CASES:
        expected = [s.model_dump() for s in suggestions_here(fresh, state)]
        first = suggestions_here(memo, state)
        again = suggestions_here(memo, state)  # from the memo now
        assert [s.model_dump() for s in first] == expected, name
        assert [s.model_dump() for s in again] == expected, name
        assert all(a is b for a, b in zip(first, again, strict=True)), name  # the very same frozen objects
    assert memo.memo and not fresh.memo


def test_memoised_outcomes_and_answers_are_what_a_forgetful_world_gives() -> None:
    memo, fresh = remembering(), forgetting()
    for name, state in CASES[::4]:  # a quarter of the cases, every intent: some ten thousand actions a world
        for intent in intents_for(fresh, state):  # the memo, shared by every case, is mostly warm by now
            assert body(memo, state, intent) == body(fresh, state, intent), (name, intent)


def test_the_laws_asked_include_every_law_that_could_forbid() -> None:
    # forbidding_law asks only the laws _may_forbid lets through (memoised per scene, realm and intent): no law
    # that forbids some intent, whatever its slots, may be left out.
    slots = [{}, *({"target": t} for t in (*WORLD.scenes, *WORLD.monsters, *WORLD.npcs, "nowhere"))]
    slots += [{"item": i} for i in (*WORLD.items, "nowhere")]
    for law in WORLD.laws:
        for scene_id in (*WORLD.scenes, "nowhere"):
            for realm in WORLD.realms:
                for name in WORLD.intents:
                    if _may_forbid(WORLD, law, scene_id, realm.id, name):
                        continue
                    for chosen in slots:
                        intent = ParsedIntent(intent=name, slots=chosen)
                        assert not forbids(WORLD, law, scene_id, realm.id, intent), (law.id, scene_id, intent)


def test_the_answer_lists_are_each_models_own_dump() -> None:
    for _name, state in CASES[::7]:
        for intent in intents_for(WORLD, state)[:12]:
            outcome = apply_action(WORLD, state, intent, Random(3))
            answer = action_view(WORLD, ParseResult(intent=intent, parser="rules"), outcome)
            assert answer["events"] == [event.model_dump() for event in outcome.events]
            assert answer["suggestions"] == [suggestion.model_dump() for suggestion in outcome.suggestions]


def junk_intents(words: list[str]) -> list[ParsedIntent]:
    found: list[ParsedIntent] = []
    for word in words:
        found.append(ParsedIntent(intent=word[:20] or "dance"))
        for name in ("move", "attack", "talk", "examine", "use_item", "buy", "sell", "equip", "unequip"):
            found.append(ParsedIntent(intent=name, slots={"target": word}))
            found.append(ParsedIntent(intent=name, slots={"item": word, "quantity": 3}))
            found.append(ParsedIntent(intent=name, slots={"direction": word, "amount": word}))
    return found


def flat(key: Hashable) -> set[object]:
    return set(key) if isinstance(key, tuple) else {key}


@pytest.mark.parametrize("scene_id", ["zhucheng", "fangshi", "heifenglin"])
def test_junk_slots_never_enter_the_memo(scene_id: str) -> None:
    world = remembering()
    states = [state for _, state in kinds_of_player(scene_id, WORLD.realms[0].id)]
    for state in states:
        for intent in junk_intents(JUNK):
            apply_action(world, state, intent, Random(0))
    for key in world.memo:  # ("talk_to", npc, "") has an empty note: "" is a word of the engine too
        assert not flat(key) & (set(JUNK) - {""}), key
    settled = set(world.memo)
    # Another batch of made-up words: the memo does not grow by a single entry.
    other = [f"junk{n}" for n in range(12)] + [f"野狼{n}" for n in range(12)]
    for state in states:
        for intent in junk_intents(other):
            apply_action(world, state, intent, Random(0))
    assert set(world.memo) == settled


def test_the_shipped_world_fits_its_memo_twice_over() -> None:
    # Every case, every intent worth trying: about as many keys as the shipped world can make (laws to ask per
    # scene, realm and intent; verdicts per scene, realm and beast or item), so its memo is never emptied.
    world = remembering()
    for _name, state in CASES[::2]:  # still every scene and realm
        for intent in intents_for(world, state):
            apply_action(world, state, intent, Random(0))
    assert 0 < len(world.memo) < MEMO_LIMIT / 2


def test_the_memo_is_bounded_whatever_the_keys() -> None:
    world = remembering()
    for n in range(MEMO_LIMIT * 2 + 5):
        assert world.memoised(("test", n), lambda n=n: n * 2) == n * 2
        assert len(world.memo) <= MEMO_LIMIT
    assert world.memoised(("test", 1), lambda: -1) in (2, -1)


def test_a_memo_keeps_one_answer_per_key_and_nothing_for_a_failure() -> None:
    world = remembering()
    calls: list[int] = []
    assert world.memoised(("k",), lambda: calls.append(1) or "v") == "v"
    assert world.memoised(("k",), lambda: calls.append(1) or "w") == "v"
    assert calls == [1]
    assert world.memoised(("none",), lambda: None) is None and ("none",) in world.memo

    def boom() -> str:
        raise KeyError("no such id")

    with pytest.raises(KeyError):
        world.memoised(("boom",), boom)
    assert ("boom",) not in world.memo


def test_a_replaced_world_starts_with_an_empty_memo_and_compares_as_before() -> None:
    world = remembering()
    suggestions_here(world, new_player(world, "p", "道友", 1))
    assert world.memo
    changed = dataclasses.replace(world, laws=())
    assert changed.memo == {} and changed.memo is not world.memo
    assert dataclasses.replace(world) == world
    assert "memo" not in repr(world)
