"""The DeepSeek intent parser: the LLM's validated answer within a time budget, the rules parser as the fallback."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

import structlog
from pydantic import ValidationError

from xianxia.config import LLMMode
from xianxia.engine import UNKNOWN, ParsedIntent
from xianxia.engine.intents import IntentParser, ParseContext, ParseResult
from xianxia.llm.errors import LLMBadAnswer, LLMError, error_type
from xianxia.llm.observer import LLMObserver, NullObserver
from xianxia.world import World

log = structlog.get_logger(__name__)


class IntentClient(Protocol):
    """The part of `DeepSeekClient` the parser uses: both answer a validated `{intent, slots, allowed, reason}`."""

    async def parse_async(self, utterance: str, ctx: ParseContext) -> dict[str, Any]: ...

    async def parse_in_thread(self, utterance: str, ctx: ParseContext) -> dict[str, Any]: ...


class LLMParser:
    """Asks the LLM within `budget` seconds; any failure, refusal to understand or timeout answers with the rules."""

    def __init__(
        self,
        client: IntentClient,
        rules: IntentParser,
        *,
        mode: Callable[[], LLMMode],
        budget: float,
        observer: LLMObserver | None = None,
        world: World | None = None,
        route: Callable[[str | None], LLMMode] | None = None,
    ) -> None:
        self._client = client
        self._world = world
        self._rules = rules
        self._mode = mode
        # Per player (the rollout share): which path this player's parse takes; without it, `mode` decides.
        self._route = route
        self._budget = budget
        self._observer: LLMObserver = observer if observer is not None else NullObserver()

    async def parse(self, utterance: str, context: ParseContext) -> ParseResult:
        # The rules parser is cheap and is the answer whenever the LLM cannot give a better one.
        fallback = await self._rules.parse(utterance, context)
        mode = self._route(context.player_id) if self._route is not None else self._mode()
        if mode == "off":
            return self._decide("rules_only", fallback)
        ask = self._client.parse_async if mode == "async" else self._client.parse_in_thread
        context = self._with_target_realm(context, fallback.intent)
        try:
            async with asyncio.timeout(self._budget):
                answer = await ask(utterance, context)
            intent = ParsedIntent.model_validate(answer)
        except TimeoutError:
            log.warning("llm_parse_timeout", budget=self._budget, mode=mode)
            return self._decide("fallback_timeout", fallback.model_copy(update={"degraded": True}))
        except (LLMBadAnswer, ValidationError) as exc:
            log.info("llm_parse_invalid", error=str(exc)[:200], mode=mode)
            return self._decide("fallback_invalid", fallback)
        except LLMError as exc:
            log.info("llm_parse_error", error_type=error_type(exc), mode=mode)
            return self._decide("fallback_error", fallback)
        except Exception:
            # Any failure of the LLM path falls back (the design's promise); a bug here must not fail the action.
            log.exception("llm_parse_crashed", mode=mode)
            return self._decide("fallback_error", fallback)
        return self._compare(intent, fallback)

    def _with_target_realm(self, context: ParseContext, rules: ParsedIntent) -> ParseContext:
        """The context with the realm of the monster the rules parser found as the target, when it has none."""
        # The game builds the context before anything is parsed, so only here can the target be known.
        if self._world is None or context.target_realm is not None:
            return context
        monster = self._world.monsters.get(rules.slot("target") or "")
        if monster is None:
            return context
        return context.model_copy(update={"target_realm": monster.realm})

    def _compare(self, intent: ParsedIntent, fallback: ParseResult) -> ParseResult:
        rules = fallback.intent
        if intent.intent == UNKNOWN:
            if rules.intent != UNKNOWN:
                # "Not understood" carries no information: keep what the rules did understand.
                return self._decide("fallback_unknown", fallback)
            # Both failed to understand: the rules' hint names what can be said in this world.
            intent = intent.model_copy(update={"reason": rules.reason or intent.reason})
        agree = intent.intent == rules.intent and intent.slots == rules.slots
        if not agree:
            log.debug("llm_parse_override", llm=intent.intent, rules=rules.intent)
        return self._decide("llm_agree" if agree else "llm_override", ParseResult(intent=intent, parser="llm"))

    def _decide(self, decision: str, result: ParseResult) -> ParseResult:
        self._observer.decision(decision)
        return result
