"""The labelled corpus scores the LLM path end to end: real client, real HTTP, the fake upstream, validation.

The fake upstream answers parse prompts with the rules parser's reading, so an
LLM-path score below the rules parser's means the prompt, the transport or the
validation lost or rejected a correct answer on the way.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import report_corpus_score
from tests.parsing.corpus import load_corpus, score, score_async
from tests.support.fakellm.server import FakeConfig, running_fake
from xianxia.config import Settings
from xianxia.engine.intents import ParseContext, ParsedIntent
from xianxia.llm.client import DeepSeekClient
from xianxia.llm.parser import LLMParser
from xianxia.metrics import Metrics
from xianxia.parsing.rules import RulesParser
from xianxia.world import load_world


async def test_llm_path_scores_the_corpus_like_the_answers_it_was_given(tmp_path: Path) -> None:
    world = load_world()
    rules = RulesParser(world)
    corpus = load_corpus()
    rules_accuracy, _ = score(rules.interpret, corpus)
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

            async def through_llm(text: str, context: ParseContext) -> ParsedIntent:
                result = await parser.parse(text, context)
                parsers_used.append(result.parser)
                return result.intent

            llm_accuracy, misses = await score_async(through_llm, corpus)
        finally:
            await client.aclose()
    report_corpus_score(
        "LLM path via the fake upstream (pipeline fidelity, not model quality)", llm_accuracy, len(corpus)
    )
    assert parsers_used.count("llm") >= 0.9 * len(corpus), "most answers must come through the LLM path"
    assert llm_accuracy >= rules_accuracy, [str(miss) for miss in misses]
    assert "llm_agree" in metrics.render().decode()
