"""Validation of the LLM's intent answer: untrusted text in, a checked and judged `ParsedIntent` out."""

from __future__ import annotations

import json
import re
import unicodedata
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

from xianxia.engine import ALLOWED_INTENTS, UNKNOWN, ParsedIntent, judge
from xianxia.engine.intents import ENTITY_SLOTS, INTENT_SLOTS, ParseContext
from xianxia.llm.errors import InvalidLLMOutput
from xianxia.world import World

#: A longer answer is not an intent object (the parse asks for a few dozen tokens).
MAX_ANSWER_CHARS = 8_000
#: How many `{` positions are tried when looking for the JSON object inside prose.
MAX_OBJECT_STARTS = 16
#: Free text kept from the answer (the hint of an `unknown`) is cut here.
MAX_REASON_CHARS = 80
MAX_ID_CHARS = 64
MIN_QUANTITY, MAX_QUANTITY = 1, 999

EntityKind = Literal["scene", "npc", "monster", "item"]

#: Which slots an intent may carry, and which entity kinds an id slot may name (the engine's one table).
SLOTS: Mapping[str, Mapping[str, tuple[str, ...]]] = INTENT_SLOTS
#: Intents whose quantity defaults to one, as the rules parser answers them.
COUNTED = frozenset({"buy", "sell"})

#: Control and bidi characters, never let through into text a player reads.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")
_CONTROL = CONTROL_CHARACTERS
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)


def validate_intent_answer(raw: str, world: World, context: ParseContext) -> ParsedIntent:
    """Check an LLM answer against the allow-listed intents and the world; the engine sets the verdict."""
    data = _extract_object(raw)
    intent = _intent_name(data.get("intent"))
    slots = _slots(intent, data.get("slots"), world, context)
    parsed = ParsedIntent(intent=intent, slots=slots)
    scene, realm = context.scene, context.realm
    if scene is not None and realm is not None and scene in world.scenes and realm in world.realm_index:
        parsed = judge(world, scene, realm, parsed)
    if intent == UNKNOWN and parsed.allowed:
        # The only free text kept: the model's hint for a command it did not understand.
        parsed = parsed.model_copy(update={"reason": clean_text(data.get("reason"), MAX_REASON_CHARS)})
    return parsed


def clean_text(value: object, limit: int) -> str:
    """A string without control or bidi characters, stripped and cut; anything else is ''."""
    if not isinstance(value, str):
        return ""
    return _CONTROL.sub("", value[: limit * 4]).strip()[:limit]


def _extract_object(raw: object) -> dict[str, Any]:
    if not isinstance(raw, str):
        raise InvalidLLMOutput("answer is not text")
    if len(raw) > MAX_ANSWER_CHARS:
        raise InvalidLLMOutput("answer too long")
    fenced = _FENCE.search(raw)
    candidates = [fenced.group(1), raw] if fenced else [raw]
    for text in candidates:
        found = _first_object(text)
        if found is not None:
            return found
    raise InvalidLLMOutput("answer holds no JSON object")


def _first_object(text: str) -> dict[str, Any] | None:
    """The first `{...}` in the text that decodes as a JSON object (strings and escapes respected)."""
    decoder = json.JSONDecoder(parse_constant=_reject_constant)
    start = text.find("{")
    for _ in range(MAX_OBJECT_STARTS):
        if start < 0:
            return None
        try:
            value, _end = decoder.raw_decode(text, start)
        except (ValueError, RecursionError):
            value = None
        if isinstance(value, dict):
            return value
        start = text.find("{", start + 1)
    return None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _intent_name(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidLLMOutput("intent missing or not a string")
    name = value.strip().lower()
    if name not in ALLOWED_INTENTS:
        raise InvalidLLMOutput(f"intent not allowed: {clean_text(name, 32)!r}")
    return name


def _slots(intent: str, value: object, world: World, context: ParseContext) -> dict[str, str | int]:
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise InvalidLLMOutput("slots is not an object")
    allowed = SLOTS.get(intent, {})
    slots: dict[str, str | int] = {}
    for name, slot_value in value.items():
        if slot_value is None:  # models often spell an absent slot as null
            continue
        if name not in allowed:
            raise InvalidLLMOutput(f"slot {clean_text(name, 32)!r} not allowed for {intent}")
        kinds = allowed[name]
        if name in ENTITY_SLOTS:
            slots[name] = _resolve(slot_value, cast(tuple[EntityKind, ...], kinds), world, context)
        elif kinds:
            slots[name] = _word(name, slot_value, kinds)
        else:
            slots[name] = _quantity(slot_value)
    if intent in COUNTED and "amount" not in slots:
        slots.setdefault("quantity", MIN_QUANTITY)
    return slots


def _word(name: str, value: object, words: tuple[str, ...]) -> str:
    """A slot that takes one of a few fixed words (a direction, `all`)."""
    if not isinstance(value, str) or value.strip().lower() not in words:
        raise InvalidLLMOutput(f"slot {name!r} must be one of {', '.join(words)}")
    return value.strip().lower()


def _quantity(value: object) -> int:
    # bool is an int in Python; "3" is how some models write a number.
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value.strip()) <= 4:
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidLLMOutput("quantity is not an integer")
    if not MIN_QUANTITY <= value <= MAX_QUANTITY:
        raise InvalidLLMOutput("quantity out of range")
    return value


def _resolve(value: object, kinds: tuple[EntityKind, ...], world: World, context: ParseContext) -> str:
    """An entity id of one of `kinds`, from an id or an unambiguous name or alias."""
    if not isinstance(value, str):
        raise InvalidLLMOutput("entity slot is not a string")
    text = clean_text(value, MAX_ID_CHARS + 1)
    if not text or len(text) > MAX_ID_CHARS:
        raise InvalidLLMOutput("entity slot is empty or too long")
    index = _index_of(world)
    for kind in kinds:
        if text in index.ids[kind]:
            return text
    key = _normalize(text)
    matches = sorted({entity for kind in kinds for entity in index.names[kind].get(key, ())})
    if len(matches) > 1:
        here = _present(world, context)
        matches = [entity for entity in matches if entity in here]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise InvalidLLMOutput(f"ambiguous entity {text!r}")
    other = [kind for kind in index.ids if kind not in kinds and (text in index.ids[kind] or key in index.names[kind])]
    if other:
        raise InvalidLLMOutput(f"{text!r} is a {other[0]}, not a {' or '.join(kinds)}")
    raise InvalidLLMOutput(f"no such {' or '.join(kinds)}: {text!r}")


def _normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().strip()


def _present(world: World, context: ParseContext) -> frozenset[str]:
    scene = world.scenes.get(context.scene or "")
    if scene is None:
        return frozenset()
    sold = scene.shop.sells if scene.shop is not None else ()
    return frozenset((*scene.exits, *scene.npcs, *scene.monsters, *sold))


@dataclass(frozen=True)
class _EntityIndex:
    """Entity ids per kind, and normalized names/aliases to ids per kind."""

    ids: Mapping[EntityKind, frozenset[str]]
    names: Mapping[EntityKind, Mapping[str, frozenset[str]]]


# Indexes are built once per World object (a World is immutable); keyed by identity, dropped with the world.
_INDEXES: dict[int, tuple[weakref.ref[World], _EntityIndex]] = {}


def _index_of(world: World) -> _EntityIndex:
    cached = _INDEXES.get(id(world))
    if cached is not None and cached[0]() is world:
        return cached[1]
    groups: dict[EntityKind, Mapping[str, Any]] = {
        "scene": world.scenes,
        "npc": world.npcs,
        "monster": world.monsters,
        "item": world.items,
    }
    names: dict[EntityKind, dict[str, set[str]]] = {kind: {} for kind in groups}
    for kind, entities in groups.items():
        for entity in entities.values():
            for label in (entity.name, *entity.aliases):
                names[kind].setdefault(_normalize(label), set()).add(entity.id)
    index = _EntityIndex(
        ids={kind: frozenset(entities) for kind, entities in groups.items()},
        names={kind: {key: frozenset(ids) for key, ids in table.items()} for kind, table in names.items()},
    )
    key = id(world)
    _INDEXES[key] = (weakref.ref(world, lambda _ref: _INDEXES.pop(key, None)), index)
    return index
