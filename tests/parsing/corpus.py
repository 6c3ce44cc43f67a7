"""The labelled utterance corpus and a scorer any parser can be measured with."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, TypeAdapter

from xianxia.engine.intents import ParseContext, ParsedIntent

CORPUS_PATH = Path(__file__).parent.parent / "data" / "utterances.json"

ParserFn = Callable[[str, ParseContext], ParsedIntent]
AsyncParserFn = Callable[[str, ParseContext], Awaitable[ParsedIntent]]


class Utterance(BaseModel):
    """What a player typed, where, and what a human reads it to mean."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str
    scene: str | None
    intent: str
    slots: dict[str, str | int]

    @property
    def context(self) -> ParseContext:
        return ParseContext(scene=self.scene)


class Miss(BaseModel):
    """An utterance a parser got wrong: what was meant and what it answered."""

    text: str
    scene: str | None
    expected: str
    got: str

    def __str__(self) -> str:
        return f"{self.text!r} @ {self.scene}: expected {self.expected}, got {self.got}"


def load_corpus(path: Path = CORPUS_PATH) -> list[Utterance]:
    return TypeAdapter(list[Utterance]).validate_python(json.loads(path.read_text(encoding="utf-8")))


def _describe(intent: str, slots: dict[str, str | int]) -> str:
    return f"{intent} {json.dumps(slots, ensure_ascii=False, sort_keys=True)}"


def judge(utterance: Utterance, parsed: ParsedIntent) -> Miss | None:
    """None when both the intent and the slots are right."""
    if parsed.intent == utterance.intent and dict(parsed.slots) == utterance.slots:
        return None
    return Miss(
        text=utterance.text,
        scene=utterance.scene,
        expected=_describe(utterance.intent, utterance.slots),
        got=_describe(parsed.intent, dict(parsed.slots)),
    )


def _tally(corpus: Sequence[Utterance], misses: list[Miss]) -> tuple[float, list[Miss]]:
    return (1.0 - len(misses) / len(corpus) if corpus else 0.0), misses


def score(parser_fn: ParserFn, corpus: Sequence[Utterance]) -> tuple[float, list[Miss]]:
    """Accuracy (intent and slots both right) of a synchronous parser, and what it missed."""
    misses = [miss for u in corpus if (miss := judge(u, parser_fn(u.text, u.context))) is not None]
    return _tally(corpus, misses)


async def score_async(parser_fn: AsyncParserFn, corpus: Sequence[Utterance]) -> tuple[float, list[Miss]]:
    """The same score for an async parser (e.g. `lambda t, c: llm.parse(t, c)` mapped to its intent)."""
    misses = [miss for u in corpus if (miss := judge(u, await parser_fn(u.text, u.context))) is not None]
    return _tally(corpus, misses)
