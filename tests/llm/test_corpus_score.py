"""The labelled corpus scores the LLM path end to end: real client, real HTTP, the fake upstream, validation.

The fake upstream answers parse prompts with a reading of its own (a keyword
spotter over the world data), so every answer the LLM path reports as its own
must be exactly the fake's reading: anything else means the prompt, the
transport or the validation changed an answer on the way.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from tests.conftest import report_corpus_score
from tests.parsing.corpus import load_corpus, score, score_async
from tests.support.fakellm.interpreters import KeywordInterpreter
from tests.support.fakellm.server import FakeConfig, running_fake
from xianxia.config import Settings
from xianxia.engine.intents import UNKNOWN, ParseContext, ParsedIntent
from xianxia.llm.client import DeepSeekClient
from xianxia.llm.parser import LLMParser
from xianxia.metrics import Metrics
from xianxia.parsing.rules import RulesParser
from xianxia.world import load_world


async def test_llm_path_scores_the_corpus_like_the_answers_it_was_given(tmp_path: Path) -> None:
    world = load_world()
    rules = RulesParser(world)
    corpus = load_corpus()
    fake_reading = KeywordInterpreter(world)

    def as_the_fake_reads(text: str, context: ParseContext) -> ParsedIntent:
        answer = fake_reading(text, context.scene)
        slots = dict(answer["slots"])
        if answer["intent"] in ("buy", "sell"):
            slots.setdefault("quantity", 1)  # as the validator counts a trade without a number
        try:
            return ParsedIntent(intent=answer["intent"], slots=slots)
        except ValidationError:  # e.g. a count past 999: the validator refuses it and the rules answer
            return ParsedIntent(intent=UNKNOWN)

    fake_accuracy, _ = score(as_the_fake_reads, corpus)
    metrics = Metrics()
    async with running_fake(FakeConfig(port=0)) as fake:
        settings = Settings(
            database_url=f"sqlite:///{tmp_path / 'unused.db'}",
            deepseek_api_key="corpus-key",
            deepseek_base_url=fake.base_url,
            llm_timeout=10,
        )
        client = DeepSeekClient(settings, world, observer=metrics)
        await client.start()
        try:
            parser = LLMParser(client, rules, mode=lambda: "async", budget=10.0, observer=metrics)
            parsers_used: list[str] = []
            changed: list[str] = []

            async def through_llm(text: str, context: ParseContext) -> ParsedIntent:
                result = await parser.parse(text, context)
                parsers_used.append(result.parser)
                expected = as_the_fake_reads(text, context)
                if result.parser == "llm" and (result.intent.intent, result.intent.slots) != (
                    expected.intent,
                    expected.slots,
                ):
                    changed.append(f"{text!r}: fake said {expected}, the LLM path gave {result.intent}")
                return result.intent

            llm_accuracy, misses = await score_async(through_llm, corpus)
        finally:
            await client.aclose()
    report_corpus_score(
        "LLM path via the fake upstream (pipeline fidelity, not model quality)", llm_accuracy, len(corpus)
    )
    assert parsers_used.count("llm") >= 0.8 * len(corpus), "most answers must come through the LLM path"
    assert changed == []
    # Where the fake does not understand, the rules parser's reading is kept, so the path never scores lower.
    assert llm_accuracy >= fake_accuracy, [str(miss) for miss in misses]
    assert "llm_agree" in metrics.render().decode()
