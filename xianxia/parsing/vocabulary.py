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
SLOTLESS_INTENTS = frozenset({"look", "cultivate", "breakthrough", "explore", "rest", "status", "inventory", "help"})

_DIGITS = re.compile(r"\d+")
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
        for intent, vocabulary in world.intents.items():
            for phrase in (*vocabulary.zh, *vocabulary.en):
                surface = normalize(phrase)
                if surface:
                    self._term(surface).intents.append(intent)
                elif compact(phrase):
                    self.exact.setdefault(compact(phrase), intent)
        self._add_entities("scene", ((s.id, s.name, s.aliases) for s in world.scenes.values()))
        self._add_entities("npc", ((n.id, n.name, n.aliases) for n in world.npcs.values()))
        self._add_entities("monster", ((m.id, m.name, m.aliases) for m in world.monsters.values()))
        self._add_entities("item", ((i.id, i.name, i.aliases) for i in world.items.values()))
        numbers = world.settings.number_words.items()
        #: Single-character numerals (一, 两, 十) chain into numbers; English words stand alone.
        self.digit_words = {word: value for word, value in numbers if len(word) == 1 and not is_word_char(word)}
        self.english_numbers = {normalize(word): value for word, value in numbers if word.isascii() and normalize(word)}

    def _term(self, surface: str) -> Term:
        return self.terms.setdefault(surface, Term(surface))

    def _add_entities(self, kind: EntityKind, rows: Iterable[tuple[str, str, tuple[str, ...]]]) -> None:
        for entity_id, name, aliases in rows:
            surfaces = tuple(dict.fromkeys(s for s in (normalize(w) for w in (name, *aliases)) if s))
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
        """(position, value) of every number outside the matched words: digits, 三/两/十二, "two"."""
        covered = [False] * len(text)
        for match in matches:
            covered[match.start : match.end] = [True] * match.length
        found: list[tuple[int, int]] = []
        for digits in _DIGITS.finditer(text):
            if not any(covered[digits.start() : digits.end()]):
                # Past three digits the value is above any quantity anyway; this also avoids huge int parsing.
                found.append((digits.start(), int(digits.group()) if len(digits.group()) <= 3 else 1000))
        position = 0
        while position < len(text):
            end = position
            while end < len(text) and not covered[end] and text[end] in self.digit_words:
                end += 1
            if end > position:
                found.append((position, self._compose([self.digit_words[c] for c in text[position:end]])))
                position = end
            else:
                position += 1
        for word, value in self.english_numbers.items():
            start = text.find(word)
            while start != -1:
                end = start + len(word)
                if bounded(text, start, end) and not any(covered[start:end]):
                    found.append((start, value))
                start = text.find(word, start + 1)
        return sorted(found)

    @staticmethod
    def _compose(values: list[int]) -> int:
        """Chinese numerals: 十二 is 12, 二十五 is 25, 三 is 3."""
        total, current = 0, 0
        for value in values:
            if value == 10:
                total += (current or 1) * 10
                current = 0
            else:
                current = current * 10 + value
        return total + current
