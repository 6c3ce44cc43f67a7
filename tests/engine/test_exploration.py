"""Looking, moving, talking and exploring."""

from __future__ import annotations

import dataclasses
from collections import Counter

from tests.engine.helpers import WORLD, act, assert_refused, event_types, player, texts


def test_look_describes_the_scene_from_world_data() -> None:
    outcome = act(player(location="fangshi"), "look")
    assert outcome.allowed and outcome.state.version == 1
    for fragment in ("坊市", "出口：西·主城、南·客栈", "丹阁掌柜", "回春丹（10灵石）", "丹阁"):
        assert fragment in outcome.narration


def test_move_to_an_exit_changes_location_and_describes_the_new_scene() -> None:
    outcome = act(player(), "move", target="houshan")
    assert outcome.state.location == "houshan"
    assert outcome.events[0].model_dump() == {"type": "moved", "data": {"from": "zhucheng", "to": "houshan"}}
    assert "后山" in outcome.narration and "攻击野狼" in texts(outcome)


def test_move_to_a_scene_that_is_not_an_exit_is_refused() -> None:
    state = player()
    outcome = act(state, "move", target="lingquan")
    assert_refused(state, outcome)
    assert "灵泉" in outcome.intent.reason


def test_move_to_the_current_scene_is_refused_with_a_clear_reason() -> None:
    state = player()
    outcome = act(state, "move", target="zhucheng")
    assert_refused(state, outcome)
    assert "已经在主城" in outcome.intent.reason


def test_move_without_or_with_a_garbage_target_is_refused() -> None:
    state = player()
    assert_refused(state, act(state, "move"))
    assert_refused(state, act(state, "move", target="atlantis"))
    assert_refused(state, act(state, "move", target=3))


def test_talk_gives_one_of_the_npcs_lines_chosen_by_the_rng() -> None:
    lines = WORLD.npcs["zhangmen"].lines
    seen: Counter[str] = Counter()
    for seed in range(40):
        outcome = act(player(location="zongmen"), "talk", seed=seed, target="zhangmen")
        event = outcome.events[0]
        assert event.type == "dialogue" and event.data["npc"] == "zhangmen" and event.data["line"] in lines
        assert event.data["line"] in outcome.narration
        seen[event.data["line"]] += 1
    assert len(seen) > 1


def test_talk_to_someone_who_is_not_here_is_refused() -> None:
    state = player()
    assert_refused(state, act(state, "talk", target="zhangmen"))
    two = player(location="zongmen")  # with one person here, a bare "talk" talks to them
    assert_refused(two, act(two, "talk"))


def test_explore_draws_every_kind_of_encounter_by_weight() -> None:
    kinds: Counter[str] = Counter()
    for seed in range(200):
        outcome = act(player(location="houshan"), "explore", seed=seed)
        assert outcome.allowed
        kinds[event_types(outcome)[0] if outcome.events else "nothing"] += 1
    assert set(kinds) == {"encounter", "item_gained", "nothing"}
    assert kinds["encounter"] > kinds["nothing"]  # 4 parts in 7 against 1 in 7


def test_explore_meeting_a_monster_names_it_and_suggests_the_fight_without_fighting() -> None:
    for seed in range(50):
        outcome = act(player(location="houshan"), "explore", seed=seed)
        if "encounter" in event_types(outcome):
            monster = outcome.events[0].data["monster"]
            assert outcome.suggestions[0].intent == "attack"
            assert outcome.suggestions[0].slots == {"target": monster}
            assert outcome.state.hp == 100 and outcome.state.kills == 0
            return
    raise AssertionError("no encounter in 50 seeds")


def test_explore_finds_stones_qi_and_items() -> None:
    found = {"stones_changed": False, "qi_gained": False}
    for seed in range(60):
        stones = act(player(location="heifenglin"), "explore", seed=seed)
        if "stones_changed" in event_types(stones):
            assert stones.state.spirit_stones == 70
            found["stones_changed"] = True
        qi = act(player(location="zongmen", qi=90), "explore", seed=seed)
        if "qi_gained" in event_types(qi):
            assert qi.state.qi == 100  # 20 found, capped at the stage limit
            found["qi_gained"] = True
    assert all(found.values())


def test_explore_a_scene_without_encounters_is_a_plain_walk() -> None:
    bare = dataclasses.replace(
        WORLD, scenes={**WORLD.scenes, "zhucheng": WORLD.scenes["zhucheng"].model_copy(update={"encounters": ()})}
    )
    outcome = act(player(), "explore", world=bare)
    assert outcome.allowed and outcome.events == () and "主城" in outcome.narration
    assert outcome.state == player().model_copy(update={"version": 1, "explored": {"zhucheng": 1}})
