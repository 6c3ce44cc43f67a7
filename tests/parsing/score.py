"""Score the parsers on the labelled corpus: `python -m tests.parsing.score` (rules), and with
`DEEPSEEK_API_KEY` (and optionally `DEEPSEEK_BASE_URL`) set, the LLM path against that upstream too."""

from __future__ import annotations

import asyncio
import sys

from tests.parsing.corpus import load_corpus, score, score_async
from xianxia.config import Settings
from xianxia.engine.intents import ParseContext, ParsedIntent
from xianxia.llm.client import DeepSeekClient
from xianxia.llm.parser import LLMParser
from xianxia.parsing.rules import RulesParser
from xianxia.world import load_world


async def main() -> int:
    settings = Settings.from_env()
    world = load_world(settings.world_dir)
    rules = RulesParser(world)
    corpus = load_corpus()
    accuracy, misses = score(rules.interpret, corpus)
    print(f"rules parser: {accuracy:.3f} on {len(corpus)} utterances")
    for miss in misses:
        print(f"  miss: {miss}")
    if settings.deepseek_api_key is None:
        print("LLM path: skipped (DEEPSEEK_API_KEY is not set)")
        return 0
    client = DeepSeekClient(settings, world)
    await client.start()
    try:
        parser = LLMParser(client, rules, mode=lambda: "async", budget=settings.llm_timeout, world=world)
        decided_by_llm = 0

        async def through_llm(text: str, context: ParseContext) -> ParsedIntent:
            nonlocal decided_by_llm
            result = await parser.parse(text, context)
            decided_by_llm += result.parser == "llm"
            return result.intent

        accuracy, misses = await score_async(through_llm, corpus)
    finally:
        await client.aclose()
    print(f"LLM path ({settings.deepseek_base_url}): {accuracy:.3f}; the LLM decided {decided_by_llm} of {len(corpus)}")
    for miss in misses:
        print(f"  miss: {miss}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
