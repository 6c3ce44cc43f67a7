"""Issue 13's findings, each played as a player would type it: every test here fails under rules 1."""

from __future__ import annotations

import re
from random import Random

from tests.engine.helpers import WORLD, act, player
from xianxia.engine import Outcome, PlayerState, apply_action
from xianxia.engine.intents import ParseContext
from xianxia.parsing.rules import RulesParser

PARSER = RulesParser(WORLD)


def say(state: PlayerState, text: str, seed: int = 0) -> Outcome:
    intent = PARSER.interpret(text, ParseContext(scene=state.location, realm=state.realm))
    return apply_action(WORLD, state, intent, Random(seed))


def play(state: PlayerState, *texts: str) -> Outcome:
    outcome = None
    for number, text in enumerate(texts):
        outcome = say(state, text, seed=number)
        state = outcome.state
    assert outcome is not None
    return outcome


def suggested(outcome: Outcome) -> list[str]:
    return [s.text for s in outcome.suggestions]


def test_a_place_out_of_reach_is_said_before_its_gate() -> None:
    outcome = say(player(location="kezhan"), "去禁地")
    assert outcome.narration.startswith("从客栈无法直接前往禁地")


def test_a_beast_that_is_not_here_is_said_before_the_city_law() -> None:
    outcome = say(player(), "攻击赤焰虎")
    assert outcome.narration.startswith("赤焰虎不在主城")


def test_exploring_the_same_place_gives_less_and_less() -> None:
    state = player(location="kezhan")
    stones = []
    for seed in range(40):
        outcome = act(state, "explore", seed=seed)
        stones.append(outcome.state.spirit_stones - state.spirit_stones)
        state = outcome.state
    assert sum(stones[:10]) > sum(stones[30:])
    assert state.spirit_stones - 60 < 40 * 5 / 4 / 2  # far below the undiminished expectation (50)


def test_the_ancient_jade_is_found_once_and_worn_once() -> None:
    state = player(location="yiji", hp=500, max_hp=500, attack=200, defense=200)
    for seed in range(60):
        state = act(state, "explore", seed=seed).state
        state = state.model_copy(update={"fight": None})
    assert state.inventory.get("guyu", 0) <= 1
    two = player(inventory={"guyu": 2})
    worn = act(two, "equip", item="guyu").state
    again = act(worn, "equip", item="guyu")
    assert worn.max_hp == 140 and not again.allowed and again.state.max_hp == 140


def test_a_healing_pill_at_full_hp_is_kept_and_not_suggested() -> None:
    state = player()
    outcome = say(state, "服用回春丹")
    assert not outcome.allowed and outcome.state.inventory == state.inventory
    assert "使用回春丹" not in suggested(outcome)


def test_titles_are_not_doubled_when_people_speak() -> None:
    merchant = say(player(location="fangshi"), "和掌柜说话")
    master = say(player(location="zongmen"), "和掌门说话")
    assert "坊市丹阁丹阁掌柜" not in merchant.narration and merchant.narration.startswith("丹阁掌柜说道")
    assert "青云宗掌门青云掌门" not in master.narration


def test_pills_are_counted_in_grains_not_pieces() -> None:
    outcome = say(player(location="fangshi"), "买两颗回春丹")
    assert "2颗回春丹" in outcome.narration and "件" not in outcome.narration


def test_a_forbidden_art_cannot_be_sold() -> None:
    state = player(location="fangshi", inventory={"xueji_mishu": 1})
    outcome = say(state, "卖血祭秘术")
    assert outcome.intent.law == "FORBIDDEN_ARTS" and outcome.state == state


def test_three_swords_do_not_stack() -> None:
    state = player(inventory={"tiejian": 3})
    outcome = play(state, "装备精铁剑", "使用精铁剑", "装备精铁剑")
    assert outcome.state.attack == 12 + 6
    assert outcome.state.equipment == {"weapon": "tiejian"} and outcome.state.inventory["tiejian"] == 2


def test_all_means_every_one() -> None:
    state = player(location="fangshi", inventory={"langpi": 4})
    outcome = say(state, "把狼皮都卖了")
    assert "langpi" not in outcome.state.inventory and outcome.state.spirit_stones == 60 + 4 * 6


def test_bad_quantities_are_refused_not_rounded() -> None:
    state = player(location="fangshi")
    for text in ("买1.5颗回春丹", "买-1颗回春丹"):
        outcome = say(state, text)
        assert not outcome.allowed and outcome.state == state, text


def test_bargaining_is_not_an_attack() -> None:
    outcome = say(player(location="houshan"), "砍价")
    assert outcome.intent.intent != "attack"


def test_a_word_inside_another_word_does_not_trigger_its_intent() -> None:
    assert say(player(location="kezhan"), "向小二打听消息").intent.intent == "talk"
    assert say(player(location="fangshi"), "有什么好东西").intent.intent != "move"


def test_chatting_with_someone_is_talking_to_them() -> None:
    outcome = say(player(location="kezhan"), "和小二聊聊")
    assert outcome.intent.intent == "talk" and outcome.allowed


def test_the_guards_directions_are_the_maps_exits() -> None:
    compass = {"北": "north", "南": "south", "东": "east", "西": "west"}
    for npc in WORLD.npcs.values():
        for line in npc.lines:
            for word, place in re.findall(r"往(.)(?:出城便)?是(?:悦来)?([\u4e00-\u9fff]{2,3}?)(?:，|。|$)", line):
                scene = next(
                    s for s in WORLD.scenes.values() if s.name == place or place in s.name + "".join(s.aliases)
                )
                assert WORLD.scenes["zhucheng"].directions[compass[word]] == scene.id, line  # type: ignore[index]
    assert say(player(), "往北走").state.location == "zongmen"


def test_going_back_returns_the_way_one_came() -> None:
    outcome = play(player(), "去坊市", "去客栈", "返回")
    assert outcome.state.location == "fangshi"


def test_leave_and_flee_are_understood() -> None:
    fighting = say(player(location="houshan"), "攻击野狼").state
    assert say(fighting, "逃跑").intent.intent == "flee"
    left = play(player(), "去后山", "leave")
    assert left.state.location == "zhucheng"


def test_examining_a_beast_estimates_the_danger_and_fights_nothing() -> None:
    state = player(location="heifenglin")
    outcome = say(state, "查看黑风狼王")
    assert outcome.intent.intent == "examine" and "十死无生" in outcome.narration
    assert outcome.state.hp == state.hp and outcome.state.fight is None


def test_a_name_alone_or_an_unknown_verb_never_fights_or_spends() -> None:
    wolf = say(player(location="houshan"), "野狼")
    assert wolf.state.fight is None and "攻击野狼" in suggested(wolf)
    shop = player(location="fangshi")
    for text in ("装备精铁剑", "examine sword", "精铁剑"):
        assert say(shop, text).state.spirit_stones == 60, text
    assert "买精铁剑" in suggested(say(shop, "examine sword"))


def test_a_miss_answers_with_a_short_hint_fitted_to_the_scene() -> None:
    outcome = say(player(location="fangshi"), "今天天气不错")
    assert len(outcome.narration.splitlines()) <= 3
    assert "买回春丹" in outcome.narration


def test_suggestions_grade_the_danger_of_each_beast() -> None:
    notes = {s.text: s.note for s in act(player(location="houshan"), "look").suggestions}
    assert notes["攻击灵兔"] == "轻而易举" and notes["攻击野狼"]


def test_people_and_outcomes_vary_with_the_seed() -> None:
    lines = {say(player(location="zongmen"), "和掌门说话", seed=seed).narration for seed in range(20)}
    sessions = {act(player(location="lingquan"), "cultivate", seed=seed).narration.split("，")[0] for seed in range(20)}
    assert len(lines) >= 4 and len(sessions) >= 3


def test_a_quest_is_taken_done_and_returned() -> None:
    state = play(player(), "和守卫说话").state
    assert "qingjiao" in state.quests
    strong = state.model_copy(update={"attack": 200, "location": "houshan"})
    for seed in range(3):
        strong = act(strong, "attack", seed=seed, target="yelang").state
    assert strong.quests["qingjiao"].count == 3
    back = play(strong, "回主城", "和守卫说话")
    assert back.state.quests["qingjiao"].done and back.state.spirit_stones > strong.spirit_stones
