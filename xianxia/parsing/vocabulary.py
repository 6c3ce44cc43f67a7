"""The rules parser's vocabulary: every word of the world, and where those words occur in a text."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from xianxia.parsing.normalize import compact, is_word_char, normalize
from xianxia.world import World

EntityKind = Literal["scene", "npc", "monster", "item"]

#: Intents that take no slot: a verb naming one of these never needs an entity.
SLOTLESS_INTENTS = frozenset(
    {"look", "cultivate", "breakthrough", "explore", "rest", "status", "inventory", "help", "flee", "quests"}
)

_DIGITS = re.compile(r"\d+")
#: Numeral grammar every world needs beside its own number words (which win on a clash): zero and the units
#: that make 两百, 三千, 一万 and "two hundred" one number.
CHINESE_NUMERALS: dict[str, int] = {"零": 0, "〇": 0, "百": 100, "千": 1000, "万": 10_000, "亿": 100_000_000}
ENGLISH_NUMERALS: dict[str, int] = {"zero": 0, "hundred": 100, "thousand": 1000, "million": 1_000_000}
#: Values that multiply what comes before them; from 万 up they close a whole section (一万五千 is 15000).
_UNITS = frozenset({10, 100, 1000, 10_000, 1_000_000, 100_000_000})
_SECTION_UNIT = 10_000
#: Numbers are exact up to here; anything larger only needs to read as "too many", and big ints stay cheap.
NUMBER_CAP = 10**12
_NUMBER_CAP_DIGITS = len(str(NUMBER_CAP))
#: What may stand between two English number words of one number: "two hundred", "a hundred and five".
_ENGLISH_JOINS = ("", " ")
_ENGLISH_AND = " and "
#: Short English words ("i", "l", "me", "go") are too common to decide an intent against a named entity.
_WEAK_WORD_CHARS = 2


@dataclass(frozen=True)
class Entity:
    """A world entity a word may name."""

    kind: EntityKind
    id: str
    surfaces: tuple[str, ...]


@dataclass
class Term:
    """One surface form and everything it may mean: intents it names and entities it names."""

    surface: str
    intents: list[str] = field(default_factory=list)
    entities: list[Entity] = field(default_factory=list)
    #: A compass word ("north") or "back"; an all-word (所有, all); a word that only blocks shorter ones.
    direction: str | None = None
    every: bool = False
    #: A soft verb (我要, 向) decides only with an object, and only when no other verb takes one.
    soft: bool = False

    @property
    def blank(self) -> bool:
        """Matched only so that the words inside it are not read (砍价 holds 砍; 请 is politeness)."""
        return not (self.intents or self.entities or self.direction or self.every)

    @property
    def weak(self) -> bool:
        return self.surface.isascii() and len(self.surface) <= _WEAK_WORD_CHARS


@dataclass(frozen=True)
class Match:
    """A term found at [start, end) of a normalised text."""

    start: int
    end: int
    term: Term

    @property
    def length(self) -> int:
        return self.end - self.start


@dataclass(frozen=True, order=True)
class Numeral:
    """One number word or digit run at [start, end): 三, 百, "hundred", "42"."""

    start: int
    end: int
    value: int
    #: A numeral word (十, 百, "hundred"), not digits: only words multiply.
    word: bool
    chinese: bool

    @property
    def unit(self) -> bool:
        return self.word and self.value in _UNITS


def plural_forms(surface: str) -> tuple[str, ...]:
    """English plurals of a phrase's last word, so "healing pills" finds "healing pill"."""
    if not surface.isascii() or not surface[-1:].isalpha():
        return ()
    forms = [surface + "s", surface + "es"]
    if surface.endswith("f"):
        forms.append(surface[:-1] + "ves")
    if surface.endswith("y") and surface[-2:-1] not in tuple("aeiou"):
        forms.append(surface[:-1] + "ies")
    return tuple(forms)


def bounded(text: str, start: int, end: int) -> bool:
    """True when a match does not cut an English word in two ("go" is not in "good")."""
    if start < end and is_word_char(text[start]) and start > 0 and is_word_char(text[start - 1]):
        return False
    return not (start < end and is_word_char(text[end - 1]) and end < len(text) and is_word_char(text[end]))


class Vocabulary:
    """Terms built once from the world: intent phrases, entity names and aliases, number words."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.terms: dict[str, Term] = {}
        #: Phrases that are only punctuation ("?") match a whole utterance, never a part of one.
        self.exact: dict[str, str] = {}
        self.entities: dict[tuple[EntityKind, str], Entity] = {}
        settings = world.settings
        self._variants = sorted(
            ((normalize(k), normalize(v)) for k, v in settings.variant_words.items() if normalize(k)),
            key=lambda pair: -len(pair[0]),
        )
        for intent, vocabulary in world.intents.items():
            for phrase in (*vocabulary.zh, *vocabulary.en):
                surface = self.read(phrase)
                if surface:
                    self._term(surface).intents.append(intent)
                elif compact(phrase):
                    self.exact.setdefault(compact(phrase), intent)
        self._add_spoken_forms(world, [self.read(d) for d in settings.duration_words])
        for intent, vocabulary in world.intents.items():
            for phrase in vocabulary.soft:
                surface = self.read(phrase)
                if surface:
                    term = self._term(surface)
                    term.intents.append(intent)
                    term.soft = True
        for direction, words in settings.directions.model_dump().items():
            for word in words:
                if self.read(word):
                    self._term(self.read(word)).direction = direction
        for word in settings.all_words:
            if self.read(word):
                self._term(self.read(word)).every = True
        # Blocking words last: they only take a surface that means nothing else.
        blockers = [w for v in world.intents.values() for w in v.not_words] + list(settings.filler_words)
        for word in blockers:
            if self.read(word):
                self._term(self.read(word))
        self._add_entities("scene", ((s.id, s.name, s.aliases) for s in world.scenes.values()))
        self._add_entities("npc", ((n.id, n.name, n.aliases) for n in world.npcs.values()))
        self._add_entities("monster", ((m.id, m.name, m.aliases) for m in world.monsters.values()))
        self._add_entities("item", ((i.id, i.name, i.aliases) for i in world.items.values()))
        numbers = [*CHINESE_NUMERALS.items(), *ENGLISH_NUMERALS.items(), *world.settings.number_words.items()]
        #: Single-character numerals (一, 两, 十, 百) chain into numbers; English words join across a space.
        self.digit_words = {word: value for word, value in numbers if len(word) == 1 and not is_word_char(word)}
        self.english_numbers = {normalize(word): value for word, value in numbers if word.isascii() and normalize(word)}

    def read(self, text: str) -> str:
        """The text as the vocabulary spells it: normalised, colloquial variants in their standard form."""
        surface = normalize(text)
        for variant, standard in self._variants:
            surface = surface.replace(variant, standard)
        return surface

    def _add_spoken_forms(self, world: World, durations: list[str]) -> None:
        """How players stretch a Chinese verb, kept to the intents the verb already names.

        A two-character verb takes a duration inside it (练功 → 练一会功, 睡觉 → 睡一觉, 打坐 → 打会儿坐), and a
        one-character verb doubles (搜 → 搜搜, 搜一搜). A form that is already a word of its own keeps its meaning.
        """
        verbs = {s: list(t.intents) for s, t in self.terms.items() if t.intents and not s.isascii()}
        for surface, intents in verbs.items():
            if len(surface) == 2:
                forms = [surface[0] + d + surface[1] for d in durations if d]
            elif len(surface) == 1:
                forms = [surface * 2, surface + "一" + surface]
            else:
                continue
            for form in forms:
                if form not in self.terms:
                    self._term(form).intents.extend(intents)

    def _term(self, surface: str) -> Term:
        return self.terms.setdefault(surface, Term(surface))

    def _add_entities(self, kind: EntityKind, rows: Iterable[tuple[str, str, tuple[str, ...]]]) -> None:
        for entity_id, name, aliases in rows:
            surfaces = tuple(dict.fromkeys(s for s in (self.read(w) for w in (name, *aliases)) if s))
            entity = Entity(kind, entity_id, surfaces)
            self.entities[(kind, entity_id)] = entity
            for surface in surfaces:
                for form in (surface, *plural_forms(surface)):
                    term = self._term(form)
                    if entity not in term.entities:
                        term.entities.append(entity)

    def find(self, text: str) -> list[Match]:
        """Every occurrence of every term, overlapping ones included."""
        found: list[Match] = []
        for surface, term in self.terms.items():
            start = text.find(surface)
            while start != -1:
                end = start + len(surface)
                if bounded(text, start, end):
                    found.append(Match(start, end, term))
                start = text.find(surface, start + 1)
        return found

    def select(self, text: str) -> list[Match]:
        """Non-overlapping matches, longest first; an entity beats a verb of the same length; in text order."""
        chosen: list[Match] = []
        covered = [False] * len(text)
        ranked = sorted(self.find(text), key=lambda m: (-m.length, not m.term.entities, m.start))
        for match in ranked:
            if not any(covered[match.start : match.end]):
                chosen.append(match)
                covered[match.start : match.end] = [True] * match.length
        return sorted(chosen, key=lambda m: m.start)

    def numbers(self, text: str, matches: list[Match]) -> list[tuple[int, int]]:
        """(position, value) of every number outside the matched words: 42, 三, 十二, 两百, "two hundred"."""
        covered = [False] * len(text)
        for match in matches:
            covered[match.start : match.end] = [True] * match.length
        groups: list[list[Numeral]] = []
        for numeral in sorted(self._numerals(text, covered)):
            if groups and _joins(text, groups[-1][-1], numeral):
                groups[-1].append(numeral)
            else:
                groups.append([numeral])
        return [(group[0].start, compose(group)) for group in groups]

    def _numerals(self, text: str, covered: list[bool]) -> list[Numeral]:
        found: list[Numeral] = []
        for digits in _DIGITS.finditer(text):
            if not any(covered[digits.start() : digits.end()]):
                significant = digits.group().lstrip("0") or "0"
                # A longer run is "too many" anyway; reading it whole would also hit Python's int-parsing limit.
                value = int(significant) if len(significant) < _NUMBER_CAP_DIGITS else NUMBER_CAP
                found.append(Numeral(digits.start(), digits.end(), min(value, NUMBER_CAP), False, False))
        for position, char in enumerate(text):
            if not covered[position] and char in self.digit_words:
                found.append(Numeral(position, position + 1, self.digit_words[char], True, True))
        for word, value in self.english_numbers.items():
            start = text.find(word)
            while start != -1:
                end = start + len(word)
                if bounded(text, start, end) and not any(covered[start:end]):
                    found.append(Numeral(start, end, value, True, False))
                start = text.find(word, start + 1)
        return found


def _joins(text: str, last: Numeral, numeral: Numeral) -> bool:
    """True when a numeral continues the number before it: 两+百, 5+百, "two" "hundred", "hundred and" "five"."""
    gap = text[last.end : numeral.start]
    if last.chinese and numeral.chinese:
        return gap == ""
    if last.chinese or numeral.chinese:
        return gap == "" and numeral.unit
    joined = gap in _ENGLISH_JOINS or (gap == _ENGLISH_AND and last.unit)
    # Two plain numbers side by side ("2 two") are two numbers; a unit on either side makes them one.
    return joined and (numeral.unit or last.unit)


def compose(numerals: list[Numeral]) -> int:
    """One number from its numerals: 十二 is 12, 三百零五 305, 三百五 350, 一万五千 15000, "two hundred" 200."""
    total, section, current = 0, 0, 0
    for numeral in numerals:
        value = numeral.value
        if not numeral.unit:
            # 一二三 reads digit by digit; anywhere else a plain numeral starts the current count.
            current = min(NUMBER_CAP, current * 10 + value)
        elif value >= _SECTION_UNIT:
            total = min(NUMBER_CAP, total + ((section + current) or 1) * value)
            section, current = 0, 0
        elif current == 0 and 0 < section < value:
            # "two hundred thousand": the unit multiplies the whole section said so far.
            section, current = min(NUMBER_CAP, section * value), 0
        else:
            section, current = min(NUMBER_CAP, section + (current or 1) * value), 0
    dropped_unit = numerals[-2] if len(numerals) >= 2 else None
    if dropped_unit and dropped_unit.chinese and dropped_unit.unit and dropped_unit.value >= 100 and current < 10:
        # Spoken Chinese drops the last unit: 三百五 is 350 and 一万五 is 15000 (but 三百零五 keeps 305).
        current *= dropped_unit.value // 10
    return min(NUMBER_CAP, total + section + current)
