"""Cultivating qi, breaking through stages and realms, and resting."""

from __future__ import annotations

from random import Random

from xianxia.engine.intents import ParsedIntent
from xianxia.engine.laws import karma_cleansed_by_cultivation, karma_laws, karma_penalty, tribulation_laws
from xianxia.engine.narration import stage_name
from xianxia.engine.outcome import Event
from xianxia.engine.phrasing import phrase
from xianxia.engine.results import Applied, Refused, Result
from xianxia.engine.state import PlayerState
from xianxia.engine.vitals import at_peak, clamp_hp, fraction_of, qi_capacity
from xianxia.world import World
from xianxia.world.schema import StatGains

MIN_ODDS, MAX_ODDS = 0.01, 0.99
#: A qi deviation costs this share of the qi held and of max hp.
MISHAP_QI_FRACTION, MISHAP_HP_FRACTION = 0.15, 0.05


def cultivate(world: World, state: PlayerState, intent: ParsedIntent, rng: Random) -> Result:
    scene = world.scenes[state.location]
    root = world.roots[state.root]
    capacity = qi_capacity(world, state)
    karma = max(0, state.karma - karma_cleansed_by_cultivation(world))
    # Qi deviation threatens only a meridian already half full: the nearer the bottleneck, the greater the risk.
    if capacity / 2 <= state.qi < capacity and rng.random() < world.settings.cultivate_mishap_chance:
        return _mishap(world, state, karma, rng)
    rolled = world.settings.cultivate_base_qi * root.cultivation_multiplier * scene.spirit_density
    gain = min(max(1, round(rolled * rng.uniform(0.8, 1.2))), capacity - state.qi)
    updated = state.model_copy(update={"qi": state.qi + gain, "karma": karma})
    events = [Event(type="qi_gained", data={"amount": gain, "qi": updated.qi})]
    if gain == 0:
        text = "你盘膝而坐，却发觉灵气已满，可以尝试突破。"
    else:
        text = phrase(
            world,
            "cultivate",
            rng,
            "你在{scene}盘膝打坐，吐纳天地灵气，修为增长{gain}点（{qi}/{capacity}）。",
            scene=scene.name,
            gain=gain,
            qi=updated.qi,
            capacity=capacity,
        )
        if updated.qi == capacity:
            text += "灵气已满，可以尝试突破。"
    if karma < state.karma:
        events.append(Event(type="karma_changed", data={"amount": karma - state.karma, "karma": karma}))
        text += "静坐之中，杀孽之气消散了几分。"
    return Applied(updated, text, tuple(events))


def _mishap(world: World, state: PlayerState, karma: int, rng: Random) -> Result:
    """A session gone wrong: qi slips away and the meridians ache."""
    qi_lost = fraction_of(state.qi, MISHAP_QI_FRACTION)
    hp = clamp_hp(state, state.hp - fraction_of(state.max_hp, MISHAP_HP_FRACTION))
    hurt = state.model_copy(update={"qi": state.qi - qi_lost, "hp": hp, "karma": karma})
    event = Event(type="cultivation_mishap", data={"qi_lost": qi_lost, "hp_lost": state.hp - hp, "qi": hurt.qi})
    text = phrase(
        world,
        "mishap",
        rng,
        "打坐时心神不宁，真气走岔，你损失了{qi_lost}点灵气与{hp_lost}点气血。",
        qi_lost=qi_lost,
        hp_lost=state.hp - hp,
    )
    return Applied(hurt, text, (event,))


def rest(world: World, state: PlayerState, intent: ParsedIntent, rng: Random) -> Result:
    hp = clamp_hp(state, state.hp + fraction_of(state.max_hp, world.settings.rest_hp_fraction))
    if hp == state.hp:
        return Refused(f"气血本就充盈（{hp}/{state.max_hp}），无需休息。")
    updated = state.model_copy(update={"hp": hp})
    event = Event(type="hp_restored", data={"amount": hp - state.hp, "hp": hp})
    return Applied(updated, f"你调息休整，气血恢复了{hp - state.hp}点（{hp}/{state.max_hp}）。", (event,))


def breakthrough_odds(world: World, state: PlayerState) -> float:
    """The chance the next breakthrough succeeds: a stage's fixed odds, or a realm's shaped by root, pills and karma."""
    realm = world.realm(state.realm)
    if state.stage < realm.stages:
        return realm.stage_breakthrough_chance
    root = world.roots[state.root]
    odds = realm.breakthrough_chance + root.breakthrough_bonus + state.breakthrough_bonus
    return min(MAX_ODDS, max(MIN_ODDS, odds - karma_penalty(world, state.karma)))


def tribulation_damage(world: World, state: PlayerState) -> int:
    """What the thunder of a realm breakthrough takes."""
    return sum(fraction_of(state.max_hp, law.hp_fraction) for law in tribulation_laws(world))


def breakthrough(world: World, state: PlayerState, intent: ParsedIntent, rng: Random) -> Result:
    major = state.stage >= world.realm(state.realm).stages
    if at_peak(world, state):
        return Refused(f"你已是{stage_name(world, state)}，已至此界巅峰，再无可破之关。")
    capacity = qi_capacity(world, state)
    if state.qi < capacity:
        return Refused(f"灵气尚未圆满（{state.qi}/{capacity}），无法突破。先打坐修炼吧。")
    if not major:
        return _minor(world, state, rng)
    thunder = tribulation_damage(world, state)
    if thunder and state.hp <= thunder:
        return Refused(f"雷劫将至，天雷一落便是{thunder}点气血，你只剩{state.hp}点，渡劫必死。先休息或服药养足气血。")
    return _major(world, state, rng)


def _with_gains(state: PlayerState, gains: StatGains) -> dict[str, int]:
    """Stat updates for reached gains; hp grows with max hp but is not refilled."""
    return {
        "max_hp": state.max_hp + gains.max_hp,
        "hp": state.hp + gains.max_hp,
        "attack": state.attack + gains.attack,
        "defense": state.defense + gains.defense,
    }


def _gains_text(gains: StatGains) -> str:
    parts = [
        f"{name}+{value}"
        for name, value in (("气血上限", gains.max_hp), ("攻击", gains.attack), ("防御", gains.defense))
        if value
    ]
    return f"（{'，'.join(parts)}）" if parts else ""


def _minor(world: World, state: PlayerState, rng: Random) -> Result:
    odds = breakthrough_odds(world, state)
    if rng.random() < odds:
        gains = world.realm(state.realm).stage_gains
        advanced = state.model_copy(update={"stage": state.stage + 1, "qi": 0, **_with_gains(state, gains)})
        event = Event(
            type="breakthrough",
            data={"realm": state.realm, "stage": advanced.stage, "major": False, "gains": gains.model_dump()},
        )
        text = phrase(world, "minor", rng, "灵气冲开关窍，你突破至{stage}！", stage=stage_name(world, advanced))
        return Applied(advanced, text + _gains_text(gains), (event,))
    return _fail(world, state, state, odds, [])


def _major(world: World, state: PlayerState, rng: Random) -> Result:
    # The odds are fixed before the thunder falls; the pill's power is spent on this attempt whatever its result.
    odds = breakthrough_odds(world, state)
    events: list[Event] = []
    texts: list[str] = [f"你冲击大境界，成功把握约{round(odds * 100)}%。"]
    struck = state.model_copy(update={"breakthrough_bonus": 0.0})
    for law in tribulation_laws(world):
        hp = clamp_hp(struck, struck.hp - fraction_of(struck.max_hp, law.hp_fraction))
        events.append(Event(type="tribulation", data={"law": law.id, "damage": struck.hp - hp, "hp": hp}))
        texts.append(f"【{law.name}】{law.reason}你承受天雷，损失{struck.hp - hp}点气血。")
        struck = struck.model_copy(update={"hp": hp})
    if karma_penalty(world, state.karma) > 0:
        texts += [f"【{karma.name}】{karma.reason}" for karma in karma_laws(world)]
        events.append(Event(type="karma_penalty", data={"karma": state.karma, "odds": odds}))
    if rng.random() >= odds:
        return _fail(world, state, struck, odds, events, texts)
    reached = world.realms[world.realm_rank(state.realm) + 1]
    advanced = struck.model_copy(
        update={"realm": reached.id, "stage": 1, "qi": 0, **_with_gains(struck, reached.gains)}
    )
    events.append(
        Event(
            type="breakthrough",
            data={"realm": reached.id, "stage": 1, "major": True, "gains": reached.gains.model_dump()},
        )
    )
    texts.append(
        f"天劫散去，你一举踏入{reached.name}之境！{reached.description}{_gains_text(reached.gains)}"
        f"（气血{advanced.hp}/{advanced.max_hp}，伤势仍需调养）"
    )
    return Applied(advanced, "\n".join(texts), tuple(events))


def _fail(
    world: World,
    before: PlayerState,
    state: PlayerState,
    odds: float,
    events: list[Event],
    texts: list[str] | None = None,
) -> Result:
    realm = world.realm(before.realm)
    qi_lost = fraction_of(state.qi, realm.failure_qi_fraction)
    hp = clamp_hp(state, state.hp - fraction_of(state.max_hp, realm.failure_hp_fraction))
    failed = state.model_copy(update={"qi": state.qi - qi_lost, "hp": hp})
    event = Event(type="breakthrough_failed", data={"odds": odds, "qi_lost": qi_lost, "hp_lost": state.hp - hp})
    text = f"冲关失败，真气逆行，你损失了{qi_lost}点灵气与{state.hp - hp}点气血。"
    return Applied(failed, "\n".join([*(texts or []), text]), (*events, event))
