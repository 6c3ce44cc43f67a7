"""The deterministic rules parser: the world's own words to an intent, Chinese first, English too.

How a text is read:
1. It is normalised (NFKC, case-folded, punctuation dropped, spaces kept only inside English).
2. Every intent phrase and entity name or alias is found; overlapping finds keep the longest, and an entity beats
   a verb of the same length, so "买筑基丹" names the pill 筑基丹, not the breakthrough word 筑基.
3. A verb with an entity it can act on wins (去 + 坊市 = move fangshi). When several could, the order of
   `PRIORITY` decides: "用剑攻击野狼" attacks, "去坊市买回春丹" goes to the market first.
4. Otherwise a verb alone decides (the longest one); "看看野狼" is a look, not an attack.
5. A direction word ("往北走", "north", "返回") with a move verb or alone is a move: the compass word becomes the
   exit it names here, "back" is left to the engine (it knows where the player came from).
6. Otherwise a bare entity implies its natural intent: a scene is a move, an NPC a talk, and a monster or an item
   is examined. A name alone never starts a fight or spends money: the answer offers those as suggestions.
7. Nothing found: `unknown`, with a hint built from the closest vocabulary.
8. 所有/全部/都/all make the count `amount: all`. A count that is not a whole number (1.5, -1, 半) is refused.
   A buy or sell count must be 1..999 (the engine's slot range). A count outside it ("买一千颗", "买0颗") is never
   clamped or replaced, since buying 999 of something by accident costs a fortune: the answer is `unknown` with a
   reason naming the item, "数量须在1到999之间，请重新说要买多少回气丹。", so the player can say it again.

An alias several entities share goes to the one present in the context scene; a word naming an absent entity
goes to an entity here whose name contains it ("蛇" in 禁地 is the 千年妖蛇 there).
"""

from __future__ import annotations

import difflib
import functools
import re
import unicodedata
from collections.abc import Callable

from xianxia.engine.intents import UNKNOWN, ParseContext, ParsedIntent, ParseResult
from xianxia.parsing.normalize import MAX_UTTERANCE_CHARS, compact, normalize
from xianxia.parsing.vocabulary import SLOTLESS_INTENTS, Entity, EntityKind, Match, Vocabulary
from xianxia.world import World

#: Which verb wins when several each have an entity to act on: movement first, then a fight, then trade.
PRIORITY: tuple[str, ...] = (
    "move",
    "attack",
    "buy",
    "sell",
    "talk",
    "unequip",
    "equip",
    "use_item",
    "examine",
    "cultivate",
)
ACCEPTS: dict[str, tuple[EntityKind, ...]] = {
    "move": ("scene",),
    "attack": ("monster", "npc"),
    "talk": ("npc",),
    "use_item": ("item",),
    "equip": ("item",),
    "unequip": ("item",),
    "buy": ("item",),
    "sell": ("item",),
    "examine": ("monster", "npc", "item", "scene"),
    "cultivate": ("item",),
}
#: What a bare name means. Never a fight or a purchase on a guess: a beast or an item is looked at, and the
#: answer offers the fight or the purchase as suggestions to click.
NATURAL: dict[EntityKind, str] = {"scene": "move", "monster": "examine", "npc": "talk", "item": "examine"}
SLOT_NAMES: dict[str, str] = {
    "move": "target",
    "attack": "target",
    "talk": "target",
    "examine": "target",
    "use_item": "item",
    "equip": "item",
    "unequip": "item",
    "buy": "item",
    "sell": "item",
}
#: Intents that take a count ("三颗", "all"); buy and sell always carry one.
#: Readings kept per parser (utterance, scene); each is a few hundred bytes.
PARSE_CACHE_SIZE = 4096
COUNTED_INTENTS = frozenset({"buy", "sell", "use_item"})
#: A count that is not a whole positive number: 1.5, -1, 负一, 半.
BAD_QUANTITY = re.compile(r"\d\s*[.．]\s*\d|(?<![0-9A-Za-z])[-－−]\s*\d|负\s*[\d一二两三四五六七八九十]|半")
BAD_QUANTITY_TEXT = "数量须是1到{maximum}之间的整数，请重新说要{verb}多少{item}。"
#: Items whose kind is practised rather than swallowed: "修炼血祭秘术" uses the art.
PRACTISED_ITEM_KINDS = frozenset({"art"})
#: Suggested when nothing said is close to the vocabulary.
FALLBACK_INTENTS: tuple[str, ...] = ("cultivate", "move", "look")
MAX_QUANTITY = 999
HINT_SUGGESTIONS = 3
HINT_INPUT_CHARS = 40
SNIPPET_CHARS = 20
NOT_UNDERSTOOD = "听不懂“{}”。"
QUANTITY_OUT_OF_RANGE = "数量须在1到{maximum}之间，请重新说要{verb}多少{item}。"
MAYBE = "也许你想说："

Decision = tuple[str, Match | None, Entity | None]


class RulesParser:
    """Keywords and aliases from the world data; no network, no randomness."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.vocabulary = Vocabulary(world)
        self._present: dict[str, dict[tuple[EntityKind, str], Entity]] = {
            scene.id: self._entities_at(scene.id) for scene in world.scenes.values()
        }
        self._hints_zh, self._hints_en = self._hint_candidates()
        self._fallback_zh, self._fallback_en = self._fallback_hints()
        # Players repeat the same few commands: a reading is a pure function of (world, words, scene) and
        # the intents are frozen, so the last PARSE_CACHE_SIZE readings are kept (bounded memory).
        self._interpret_cached = functools.lru_cache(maxsize=PARSE_CACHE_SIZE)(self._interpret)

    async def parse(self, utterance: str, context: ParseContext) -> ParseResult:
        return ParseResult(intent=self.interpret(utterance, context), parser="rules")

    def interpret(self, utterance: str, context: ParseContext) -> ParsedIntent:
        """The intent a player most likely means; `unknown` with a hint when nothing matches."""
        scene = context.scene if context.scene in self.world.scenes else None
        return self._interpret_cached(utterance, scene)

    def _interpret(self, utterance: str, scene: str | None) -> ParsedIntent:
        """`interpret` for the scene alone: the only part of the context the rules read."""
        exact = self.vocabulary.exact.get(compact(utterance))
        if exact is not None:
            return ParsedIntent(intent=exact)
        text = self.vocabulary.read(utterance)
        matches = self.vocabulary.select(text)
        verbs = [m for m in matches if m.term.intents and not m.term.entities]
        mentions = [m for m in matches if m.term.entities]
        # A one-letter direction ("n", "s") decides only when it is all that was said ("what's" is not south).
        directions = [m for m in matches if m.term.direction and (not m.term.weak or _all_matched(text, matches))]
        every = any(m.term.every for m in matches)
        numbers = self.vocabulary.numbers(text, matches)
        decision = (
            self._verb_with_entity(verbs, mentions, scene)
            or self._direction(verbs, directions, mentions)
            or self._verb_alone([v for v in verbs if not v.term.weak and not v.term.soft], mentions, scene)
            or self._bare_entity(mentions, scene)
            or self._verb_alone([v for v in verbs if not v.term.soft] if _all_matched(text, matches) else [], [], scene)
        )
        if decision is None:
            return ParsedIntent(intent=UNKNOWN, reason=self._not_understood(utterance))
        intent, mention, entity = decision
        if intent == "move" and entity is None and directions:
            return self._move_by_direction(directions[0].term.direction or "", scene)
        if intent == "move" and entity is None and scene is not None:
            entity = self._partial_exit(text, matches, verbs, scene)
        slots: dict[str, str | int] = {}
        if entity is not None and intent in SLOT_NAMES:
            slots[SLOT_NAMES[intent]] = entity.id
        if intent in COUNTED_INTENTS:
            if BAD_QUANTITY.search(unicodedata.normalize("NFKC", utterance)):
                return ParsedIntent(
                    intent=UNKNOWN, reason=self._quantity_out_of_range(intent, entity, BAD_QUANTITY_TEXT)
                )
            if every:
                slots["amount"] = "all"
            else:
                quantity = _quantity(numbers, mention)
                if not 1 <= quantity <= MAX_QUANTITY:
                    return ParsedIntent(intent=UNKNOWN, reason=self._quantity_out_of_range(intent, entity))
                if intent != "use_item" or quantity > 1:  # using one is what "use" means
                    slots["quantity"] = quantity
        return ParsedIntent(intent=intent, slots=slots)

    def _direction(self, verbs: list[Match], directions: list[Match], mentions: list[Match]) -> Decision | None:
        """A direction with a move verb or alone ("往北走", "北", "go back"): a move. A named place wins."""
        if not directions or any(m.term.entities[0].kind == "scene" for m in mentions):
            return None
        said = [v for v in verbs if not v.term.weak and not v.term.soft]
        if any(v.term.intents[0] not in ("move", "flee") for v in said):
            return None
        return "move", None, None

    def _move_by_direction(self, direction: str, scene: str | None) -> ParsedIntent:
        """North from here is a scene the parser can name; "back" is the engine's to resolve."""
        if direction != "back" and scene is not None:
            target = self.world.scenes[scene].directions.get(direction)  # type: ignore[call-overload]
            if target is not None:
                return ParsedIntent(intent="move", slots={"target": target})
        return ParsedIntent(intent="move", slots={"direction": direction})

    def hint(self, utterance: str) -> str:
        """Suggestions like "也许你想说：打坐修炼 / 去坊市 / 看看" from the vocabulary closest to what was said."""
        text = self.vocabulary.read(utterance)[:HINT_INPUT_CHARS]
        english = sum(char.isascii() for char in text) > len(text) / 2
        candidates = self._hints_en if english else self._hints_zh
        close = difflib.get_close_matches(text, candidates, n=HINT_SUGGESTIONS, cutoff=0.4) if text else []
        fallback = self._fallback_en if english else self._fallback_zh
        return MAYBE + " / ".join(list(dict.fromkeys((*close, *fallback)))[:HINT_SUGGESTIONS])

    def _not_understood(self, utterance: str) -> str:
        shown = "".join(c for c in utterance[:MAX_UTTERANCE_CHARS] if unicodedata.category(c)[0] != "C")
        shown = " ".join(shown.split())
        if len(shown) > SNIPPET_CHARS:
            shown = shown[:SNIPPET_CHARS] + "…"
        return (NOT_UNDERSTOOD.format(shown) if shown else "") + self.hint(utterance)

    def _quantity_out_of_range(self, intent: str, entity: Entity | None, text: str = QUANTITY_OUT_OF_RANGE) -> str:
        vocabulary = self.world.intents[intent]
        verb = vocabulary.zh[0] if vocabulary.zh else ""
        item = self.world.items[entity.id].name if entity is not None and entity.id in self.world.items else ""
        return text.format(maximum=MAX_QUANTITY, verb=verb, item=item)

    def _verb_with_entity(self, verbs: list[Match], mentions: list[Match], scene: str | None) -> Decision | None:
        best: tuple[bool, int, int, Decision] | None = None
        for verb in verbs:
            for intent in verb.term.intents:
                if intent not in PRIORITY:
                    continue
                for mention in _nearest_objects(verb, mentions):
                    entity = self._resolve(mention, scene, self._taken_by(intent))
                    if entity is None:
                        continue
                    acted = self._acts_on(intent, entity) or intent
                    rank = (verb.term.soft, PRIORITY.index(intent), verb.start)
                    if best is None or rank < best[:3]:
                        best = (*rank, (acted, mention, entity))
                    break
        return best[3] if best else None

    def _verb_alone(self, verbs: list[Match], mentions: list[Match], scene: str | None) -> Decision | None:
        if not verbs:
            return None
        # "看看状态" asks for the status: a look verb yields to any other. Then the longest verb is the most
        # specific, and a verb that needs no entity is likelier meant without one.
        verb = min(
            verbs,
            key=lambda v: (
                v.term.intents[0] in ("look", "examine"),
                -v.length,
                v.term.intents[0] not in SLOTLESS_INTENTS,
                v.start,
            ),
        )
        intent = verb.term.intents[0]
        if intent == "move":
            # "去掌门那里" goes to the person: treat it as what one does with them.
            for mention in mentions:
                entity = self._resolve(mention, scene, lambda e: e.kind in ("npc", "monster"))
                if entity is not None:
                    return NATURAL[entity.kind], mention, entity
        return intent, None, None

    def _bare_entity(self, mentions: list[Match], scene: str | None) -> Decision | None:
        for mention in mentions:
            entity = self._resolve(mention, scene, lambda e: True)
            if entity is None:
                continue
            return NATURAL[entity.kind], mention, entity
        return None

    def _partial_exit(self, text: str, matches: list[Match], verbs: list[Match], scene: str) -> Entity | None:
        """The one exit whose name holds the unmatched Chinese after a move verb ("回城" from 后山 is 主城)."""
        verb = next((v for v in verbs if "move" in v.term.intents), None)
        if verb is None:
            return None
        starts = {m.start for m in matches}
        end = verb.end
        while end < len(text) and end not in starts and not text[end].isascii():
            end += 1
        exits = [e for (kind, _), e in self._present[scene].items() if kind == "scene" and e.id != scene]
        for stop in range(end, verb.end, -1):
            fragment = text[verb.end : stop]
            found = [e for e in exits if any(fragment in s for s in e.surfaces)]
            if len(found) == 1:
                return found[0]
        return None

    def _taken_by(self, intent: str) -> Callable[[Entity], bool]:
        return lambda entity: self._acts_on(intent, entity) is not None

    def _acts_on(self, intent: str, entity: Entity) -> str | None:
        """The intent a verb becomes with this entity, or None when it cannot take it."""
        if entity.kind not in ACCEPTS.get(intent, ()):
            return None
        if intent == "cultivate":
            return "use_item" if self.world.items[entity.id].kind in PRACTISED_ITEM_KINDS else None
        return intent

    def _resolve(self, mention: Match, scene: str | None, fits: Callable[[Entity], bool]) -> Entity | None:
        """The entity a word names: one that fits, preferring one present here, else the world's first."""
        candidates = [e for e in mention.term.entities if fits(e)]
        if not candidates:
            return None
        present = self._present.get(scene or "", {})
        best = min(candidates, key=lambda e: (e.kind, e.id) not in present)
        if scene is None or (best.kind, best.id) in present:
            return best
        word = max((s for s in best.surfaces if mention.term.surface.startswith(s)), key=len, default="")
        for entity in present.values():
            if entity.kind == best.kind and fits(entity) and any(_contains(s, word) for s in entity.surfaces):
                return entity
        return best

    def _entities_at(self, scene_id: str) -> dict[tuple[EntityKind, str], Entity]:
        """What a player standing here can name: this scene and its exits, NPCs, monsters, shop goods."""
        scene = self.world.scenes[scene_id]
        keys: list[tuple[EntityKind, str]] = [("scene", scene_id)]
        keys += [("scene", s) for s in scene.exits] + [("npc", n) for n in scene.npcs]
        keys += [("monster", m) for m in scene.monsters]
        keys += [("item", i) for i in (scene.shop.sells if scene.shop else ())]
        return {key: self.vocabulary.entities[key] for key in keys}

    def _hint_candidates(self) -> tuple[list[str], list[str]]:
        """Things worth suggesting, in both languages: examples, phrases, "verb + entity" and bare names."""
        zh: list[str] = []
        en: list[str] = []
        for intent, vocabulary in self.world.intents.items():
            zh += [vocabulary.example, *[p for p in vocabulary.zh if len(p) > 1]]
            en += [p for p in vocabulary.en if len(p) > 2]
            kinds = [k for k in ACCEPTS.get(intent, ()) if k != "npc" or intent == "talk"]
            if intent == "cultivate" or not kinds:
                continue
            targets = [e for e in self.vocabulary.entities.values() if e.kind in kinds]
            template = self._zh_template(vocabulary.example, vocabulary.zh, targets)
            zh += [template.format(_first(e.surfaces, ascii_=False)) for e in targets if _first(e.surfaces, False)]
            if vocabulary.en:
                en += [f"{vocabulary.en[0]} {_first(e.surfaces, True)}" for e in targets if _first(e.surfaces, True)]
        zh += [s for e in self.vocabulary.entities.values() for s in e.surfaces if not s.isascii()]
        return list(dict.fromkeys(h for h in zh if h)), list(dict.fromkeys(h for h in en if h))

    def _fallback_hints(self) -> tuple[list[str], list[str]]:
        """What to suggest when nothing said is close: the first things a new player does."""
        zh: list[str] = []
        en: list[str] = []
        start = self.world.scenes[self.world.settings.start_scene]
        first_exit = self.vocabulary.entities[("scene", start.exits[0] if start.exits else start.id)]
        for intent in FALLBACK_INTENTS:
            vocabulary = self.world.intents[intent]
            zh.append(vocabulary.example or (vocabulary.zh[0] if vocabulary.zh else ""))
            phrase = vocabulary.en[0] if vocabulary.en else ""
            en.append(f"{phrase} {_first(first_exit.surfaces, True)}".strip() if intent == "move" else phrase)
        return [h for h in zh if h], [h for h in en if h]

    @staticmethod
    def _zh_template(example: str, phrases: tuple[str, ...], targets: list[Entity]) -> str:
        """The example with the entity it names cut out: "去{}" from "去坊市"."""
        normal = normalize(example)
        names = sorted((s for e in targets for s in e.surfaces if s in normal), key=len, reverse=True)
        if names:
            return normal.replace(names[0], "{}", 1)
        return (phrases[0] if phrases else "") + "{}"


def _first(surfaces: tuple[str, ...], ascii_: bool) -> str:
    return next((s for s in surfaces if s.isascii() == ascii_), "")


def _all_matched(text: str, matches: list[Match]) -> bool:
    """True when every letter of the text is part of a match: a short word ("me", "i") decides only alone."""
    covered = [False] * len(text)
    for match in matches:
        covered[match.start : match.end] = [True] * match.length
    return all(done or char == " " for char, done in zip(text, covered, strict=True))


def _contains(haystack: str, word: str) -> bool:
    if not word:
        return False
    if word.isascii():
        return f" {word} " in f" {haystack} "
    return word in haystack


def _nearest_objects(verb: Match, mentions: list[Match]) -> list[Match]:
    """Entities a verb may govern, the most likely first: those after it, nearest first, then those before it."""
    after = [m for m in mentions if m.start >= verb.end]
    before = [m for m in mentions if m.end <= verb.start]
    return after + before[::-1]


def _quantity(numbers: list[tuple[int, int]], mention: Match | None) -> int:
    """The number said nearest before the item ("三颗回气丹"), else after it ("回气丹三颗"), else 1; not clamped."""
    if not numbers:
        return 1
    if mention is None:
        value = numbers[0][1]
    else:
        before = [value for position, value in numbers if position < mention.start]
        after = [value for position, value in numbers if position >= mention.end]
        value = before[-1] if before else after[0] if after else numbers[0][1]
    return value
