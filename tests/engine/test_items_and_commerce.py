"""Using items, buying from and selling to a shop."""

from __future__ import annotations

from tests.engine.helpers import act, assert_refused, event_types, player


def test_using_a_healing_pill_heals_capped_and_consumes_it() -> None:
    outcome = act(player(hp=30), "use_item", item="huichun_dan")
    assert outcome.state.hp == 80 and outcome.state.inventory == {"huichun_dan": 1}
    assert outcome.events[0].model_dump() == {
        "type": "item_used",
        "data": {"item": "huichun_dan", "quantity": 1, "changes": {"hp": 50}},
    }
    assert act(player(hp=90), "use_item", item="huichun_dan").state.hp == 100


def test_using_the_last_item_removes_it_from_the_inventory() -> None:
    outcome = act(player(inventory={"juqi_dan": 1}, qi=50), "use_item", item="juqi_dan")
    assert outcome.state.inventory == {}
    assert outcome.state.qi == 100  # 80 qi, capped at the stage limit


def test_treasures_raise_stats_permanently() -> None:
    state = player(inventory={"tiejian": 1, "hushenfu": 1, "guyu": 1})
    for item in ("tiejian", "hushenfu", "guyu"):
        state = act(state, "use_item", item=item).state
    assert (state.attack, state.defense, state.max_hp, state.hp) == (18, 9, 140, 100)
    assert state.inventory == {} and state.version == 3


def test_a_foundation_pill_adds_a_breakthrough_bonus() -> None:
    outcome = act(player(inventory={"zhuji_dan": 1}), "use_item", item="zhuji_dan")
    assert outcome.state.breakthrough_bonus == 0.35
    assert "突破" in outcome.narration


def test_using_an_item_not_held_unusable_or_unknown_is_refused() -> None:
    state = player(inventory={"langpi": 1})
    assert_refused(state, act(state, "use_item", item="juqi_dan"))
    assert_refused(state, act(state, "use_item", item="langpi"))
    assert_refused(state, act(state, "use_item", item="philosophers_stone"))
    assert_refused(state, act(state, "use_item"))


def test_buying_spends_stones_and_fills_the_inventory() -> None:
    outcome = act(player(location="fangshi"), "buy", item="huiqi_dan", quantity=3)
    assert outcome.state.spirit_stones == 60 - 45
    assert outcome.state.inventory == {"huichun_dan": 2, "huiqi_dan": 3}
    assert event_types(outcome) == ["stones_changed", "item_gained"]


def test_buying_more_than_one_can_afford_is_refused() -> None:
    state = player(location="fangshi")
    outcome = act(state, "buy", item="zhuji_dan")
    assert_refused(state, outcome)
    assert "灵石不足" in outcome.intent.reason
    assert_refused(state, act(state, "buy", item="huichun_dan", quantity=7))


def test_buying_where_there_is_no_shop_or_what_it_does_not_sell_is_refused() -> None:
    assert_refused(player(), act(player(), "buy", item="huichun_dan"))
    market = player(location="fangshi")
    assert_refused(market, act(market, "buy", item="yaodan"))
    assert_refused(market, act(market, "buy", item="nonsense"))
    assert_refused(market, act(market, "buy"))


def test_selling_earns_the_sell_price_and_removes_the_goods() -> None:
    outcome = act(player(location="fangshi", inventory={"langpi": 3}), "sell", item="langpi", quantity=2)
    assert outcome.state.spirit_stones == 60 + 12
    assert outcome.state.inventory == {"langpi": 1}
    emptied = act(outcome.state, "sell", item="langpi")
    assert emptied.state.inventory == {}


def test_selling_what_one_does_not_hold_or_where_no_shop_buys_is_refused() -> None:
    market = player(location="fangshi", inventory={"langpi": 1})
    assert_refused(market, act(market, "sell", item="langpi", quantity=2))
    assert_refused(market, act(market, "sell", item="yaodan"))
    assert_refused(market, act(market, "sell"))
    city = player(inventory={"langpi": 1})
    assert_refused(city, act(city, "sell", item="langpi"))


def test_taking_a_treasure_off_returns_its_bonus_and_puts_it_back_in_the_bag() -> None:
    worn = act(player(inventory={"tiejian": 1}), "equip", item="tiejian").state
    assert worn.equipment == {"weapon": "tiejian"}
    taken = act(worn, "unequip", item="tiejian")
    assert event_types(taken) == ["unequipped"]
    assert taken.state.equipment == {}
    assert taken.state.inventory == {"tiejian": 1}
    assert taken.state.attack == player().attack
    assert "卸下精铁剑" in [s.text for s in act(worn, "status").suggestions]


def test_taking_off_an_amulet_keeps_hp_within_the_lower_cap() -> None:
    worn = act(player(inventory={"guyu": 1}), "equip", item="guyu").state
    assert worn.max_hp > player().max_hp
    full = worn.model_copy(update={"hp": worn.max_hp})
    taken = act(full, "unequip", item="guyu").state
    assert taken.max_hp == player().max_hp
    assert taken.hp == taken.max_hp


def test_taking_off_what_is_not_worn_or_nothing_named_is_refused() -> None:
    bare = player(inventory={"tiejian": 1})
    assert_refused(bare, act(bare, "unequip", item="tiejian"))
    assert_refused(bare, act(bare, "unequip"))
    worn = act(bare, "equip", item="tiejian").state
    answer = act(worn, "unequip")
    assert_refused(worn, answer)
    assert "精铁剑" in answer.narration
