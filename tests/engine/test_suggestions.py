"""What the engine says the player can do here."""

from __future__ import annotations

from tests.engine.helpers import WORLD, act, player
from xianxia.engine import suggestions_here


def texts_here(**overrides: object) -> list[str]:
    return [s.text for s in suggestions_here(WORLD, player(**overrides))]


def test_the_city_offers_exits_people_items_cultivation_and_exploration() -> None:
    assert texts_here() == [
        "去坊市",
        "去青云宗",
        "去客栈",
        "去后山",
        "和城门守卫说话",
        "打坐修炼",
        "探索",
    ]


def test_monsters_are_offered_only_where_attacking_them_is_legal() -> None:
    assert {"攻击灵兔", "攻击野狼"} <= set(texts_here(location="houshan"))
    forest = texts_here(location="heifenglin")
    assert {"攻击野狼", "攻击毒蛇"} <= set(forest) and "攻击赤焰虎" not in forest
    # Hopeless fights are offered as a look (with the danger), never as a fight.
    assert "攻击黑风狼王" not in forest and "查看黑风狼王" in forest
    strong = texts_here(location="heifenglin", realm="zhuji", attack=90, defense=60, hp=400, max_hp=400)
    assert "攻击黑风狼王" in strong
    assert "攻击赤焰虎" not in strong and "查看赤焰虎" in texts_here(location="heifenglin", realm="zhuji")


def test_gated_exits_are_offered_only_to_those_allowed_in() -> None:
    assert "去禁地" not in texts_here(location="heifenglin")
    assert "去禁地" in texts_here(location="heifenglin", realm="zhuji")


def test_the_shop_offers_what_the_player_can_afford_and_buys_goods() -> None:
    market = texts_here(location="fangshi", spirit_stones=20, inventory={"langpi": 1})
    assert {"买回春丹", "买回气丹", "卖狼皮"} <= set(market)
    assert "买聚气丹" not in market


def test_breakthrough_and_rest_are_offered_when_they_make_sense() -> None:
    assert "突破" in texts_here(qi=100)
    assert "突破" not in texts_here(qi=99)
    assert "休息" in texts_here(hp=50)
    assert "休息" not in texts_here()


def test_forbidden_items_are_not_offered_for_use() -> None:
    assert "使用血祭秘术" not in texts_here(inventory={"xueji_mishu": 1})


def test_every_outcome_carries_suggestions_without_duplicates() -> None:
    for outcome in (act(player(), "look"), act(player(), "attack", target="x"), act(player(), "move")):
        shown = [s.text for s in outcome.suggestions]
        assert shown and len(shown) == len(set(shown))
