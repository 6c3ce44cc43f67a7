"""The fake's own reading of an utterance, from the world's data alone (never the game's parser code).

A keyword spotter, deliberately simpler than the game's rules parser: the longest words of the world's vocabulary
are found in the text, one verb and one entity are picked, and they make the intent. Being a second, independent
reading is the point: a test that sees this reading come out of `/act` knows the LLM's answer reached the engine.

The `contrary` reading disagrees on purpose: a move goes to another exit of the scene, any other intent becomes a
look (a look becomes a cultivate). It is what a test switches on to tell the two parsers' answers apart.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from tests.support.fakellm.answers import Interpreter
from xianxia.world import World, load_world

Reading = Literal["faithful", "contrary"]
READINGS: tuple[Reading, ...] = get_args(Reading)

#: The slot each entity-taking intent fills, and the entity kinds it takes.
TAKES: dict[str, tuple[str, tuple[str, ...]]] = {
    "move": ("target", ("scene",)),
    "attack": ("target", ("monster", "npc")),
    "talk": ("target", ("npc",)),
    "use_item": ("item", ("item",)),
    "buy": ("item", ("item",)),
    "sell": ("item", ("item",)),
}
#: What naming an entity alone asks for.
NATURAL = {"scene": "move", "monster": "attack", "npc": "talk", "item": "use_item"}
NUMERALS = {"一": 1, "两": 2, "俩": 2, "二": 2, "仨": 3, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_DIGITS = re.compile(r"\d+")
_DROPPED = re.compile(r"[^\w\s]")


@dataclass(frozen=True)
class Meaning:
    """What a surface form of the world data names: a verb of an intent, or an entity."""

    intent: str | None = None
    kind: str | None = None
    id: str | None = None


@dataclass(frozen=True)
class Found:
    """A surface form found in the text, with everything it may mean."""

    surface: str
    start: int
    meanings: tuple[Meaning, ...]


def _plain(text: str) -> str:
    return " ".join(_DROPPED.sub(" ", unicodedata.normalize("NFKC", text).casefold()).split())


class KeywordInterpreter:
    """Reads `(utterance, scene id)` as `{"intent", "slots", "allowed", "reason"}` by spotting the world's words."""

    def __init__(self, world: World) -> None:
        self.world = world
        meanings: dict[str, list[Meaning]] = {}
        for intent, vocabulary in world.intents.items():
            for phrase in (*vocabulary.zh, *vocabulary.en):
                meanings.setdefault(_plain(phrase), []).append(Meaning(intent=intent))
        entities: list[tuple[str, str, str, tuple[str, ...]]] = []
        entities += [("scene", s.id, s.name, s.aliases) for s in world.scenes.values()]
        entities += [("npc", n.id, n.name, n.aliases) for n in world.npcs.values()]
        entities += [("monster", m.id, m.name, m.aliases) for m in world.monsters.values()]
        entities += [("item", i.id, i.name, i.aliases) for i in world.items.values()]
        for kind, id_, name, aliases in entities:
            for surface in (name, *aliases):
                meanings.setdefault(_plain(surface), []).append(Meaning(kind=kind, id=id_))
        meanings.pop("", None)
        self.meanings = {surface: tuple(found) for surface, found in meanings.items()}
        # Longest first: "筑基丹" is the pill, not the breakthrough word 筑基 and a stray 丹.
        self.surfaces = sorted(self.meanings, key=len, reverse=True)

    def __call__(self, utterance: str, scene: str | None) -> Mapping[str, Any]:
        text = _plain(utterance)
        whole = [m.intent for m in self.meanings.get(text, ()) if m.intent is not None]
        if whole:
            return _answer(whole[0])
        found = self._spot(text)
        present = self._present(scene)
        verbs = [(f, m.intent) for f in found for m in f.meanings if m.intent is not None]
        for verb, intent in verbs:
            kinds = TAKES.get(intent, ("", ()))[1]
            after = [f for f in found if f.start > verb.start]
            before = [f for f in found if f.start < verb.start][::-1]
            entity = next((m for f in after + before if (m := _meaning(f, kinds, present))), None)
            if entity is not None:
                return self._with_entity(intent, entity, text)
        if verbs:
            return _answer(max(verbs, key=lambda pair: len(pair[0].surface))[1])
        entity = next((m for f in found if (m := _meaning(f, tuple(NATURAL), present))), None)
        if entity is not None:
            intent = NATURAL[entity.kind or ""]
            if intent == "use_item" and (_number(text) is not None or self._sold_at(entity.id or "", scene)):
                intent = "buy"
            return self._with_entity(intent, entity, text)
        return _answer("unknown", reason=f"听不懂“{utterance[:20]}”。")

    def _spot(self, text: str) -> list[Found]:
        """Every surface found, longest first, none overlapping another; in text order."""
        taken = [False] * len(text)
        found: list[Found] = []
        for surface in self.surfaces:
            for start in _occurrences(text, surface):
                end = start + len(surface)
                if not any(taken[start:end]):
                    taken[start:end] = [True] * (end - start)
                    found.append(Found(surface, start, self.meanings[surface]))
        return sorted(found, key=lambda f: f.start)

    def _with_entity(self, intent: str, entity: Meaning, text: str) -> Mapping[str, Any]:
        slot, _ = TAKES[intent]
        slots: dict[str, Any] = {slot: entity.id}
        if intent in ("buy", "sell"):
            said = _number(text)
            slots["quantity"] = 1 if said is None else said
        return _answer(intent, slots)

    def _present(self, scene_id: str | None) -> set[tuple[str | None, str | None]]:
        scene = self.world.scenes.get(scene_id or "")
        if scene is None:
            return set()
        present: set[tuple[str | None, str | None]] = {("scene", scene.id)}
        present |= {("scene", s) for s in scene.exits} | {("npc", n) for n in scene.npcs}
        present |= {("monster", m) for m in scene.monsters}
        present |= {("item", i) for i in (scene.shop.sells if scene.shop else ())}
        return present

    def _sold_at(self, item_id: str, scene_id: str | None) -> bool:
        scene = self.world.scenes.get(scene_id or "")
        return scene is not None and scene.shop is not None and item_id in scene.shop.sells


def _meaning(found: Found, kinds: tuple[str, ...], present: set[tuple[str | None, str | None]]) -> Meaning | None:
    """The entity of a kind in `kinds` that `found` names, the one present in the scene first."""
    fitting = [m for m in found.meanings if m.kind in kinds]
    here = [m for m in fitting if (m.kind, m.id) in present]
    return (here or fitting or [None])[0]


class ContraryInterpreter:
    """Another valid reading than `faithful`'s: a move goes to another exit, anything else becomes a look."""

    def __init__(self, world: World, faithful: Interpreter) -> None:
        self.world = world
        self.faithful = faithful

    def __call__(self, utterance: str, scene: str | None) -> Mapping[str, Any]:
        meant = self.faithful(utterance, scene)
        if meant.get("intent") == "move" and scene in self.world.scenes:
            others = [e for e in self.world.scenes[scene].exits if e != meant.get("slots", {}).get("target")]
            if others:
                return _answer("move", {"target": others[0]})
        return _answer("cultivate" if meant.get("intent") == "look" else "look")


class WorldInterpreters:
    """Both readings over a world directory, the world loaded on first use so the fake starts at once."""

    def __init__(self, world_dir: Path | str | None = None, faithful: Interpreter | None = None) -> None:
        self._world_dir = world_dir
        self._given = faithful
        self._built: dict[Reading, Interpreter] | None = None
        self._lock = threading.Lock()

    def reading(self, name: Reading) -> Interpreter:
        """The interpreter of one reading."""

        def interpret(utterance: str, scene: str | None) -> Mapping[str, Any]:
            return self._readings()[name](utterance, scene)

        return self._given if name == "faithful" and self._given is not None else interpret

    def _readings(self) -> dict[Reading, Interpreter]:
        if self._built is None:
            with self._lock:
                if self._built is None:
                    world = load_world(self._world_dir)
                    faithful = self._given or KeywordInterpreter(world)
                    self._built = {"faithful": faithful, "contrary": ContraryInterpreter(world, faithful)}
        return self._built


def _answer(intent: str, slots: Mapping[str, Any] | None = None, reason: str = "") -> dict[str, Any]:
    return {"intent": intent, "slots": dict(slots or {}), "allowed": True, "reason": reason}


def _occurrences(text: str, surface: str) -> list[int]:
    """Where `surface` occurs; an English word only between word boundaries ("go" is not in "goblin")."""
    starts: list[int] = []
    start = text.find(surface)
    while start >= 0:
        end = start + len(surface)
        bounded = not surface.isascii() or (
            (start == 0 or not text[start - 1].isalnum()) and (end == len(text) or not text[end].isalnum())
        )
        if bounded:
            starts.append(start)
        start = text.find(surface, start + 1)
    return starts


def _number(text: str) -> int | None:
    """The first count said, in digits or one Chinese numeral (十 alone is ten)."""
    digits = _DIGITS.search(text)
    if digits:
        return int(digits.group())
    for char in text:
        if char in NUMERALS:
            return NUMERALS[char]
        if char == "十":
            return 10
    return None
