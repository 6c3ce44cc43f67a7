"""The interpreter the fake answers parse prompts with by default: the project's rules parser, built lazily."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.support.fakellm.answers import Interpreter
from xianxia.engine.intents import ParseContext
from xianxia.world import World, load_world


class LazyRulesInterpreter:
    """Loads the world and the rules parser on first use, so start-up stays instant and tests can skip both."""

    def __init__(self, world_dir: Path | str | None = None) -> None:
        self._world_dir = world_dir
        self._interpret: Interpreter | None = None
        self._lock = threading.Lock()

    def __call__(self, utterance: str, scene: str | None) -> Mapping[str, Any]:
        if self._interpret is None:
            with self._lock:
                if self._interpret is None:
                    self._interpret = rules_interpreter(load_world(self._world_dir))
        return self._interpret(utterance, scene)


def rules_interpreter(world: World) -> Interpreter:
    """`RulesParser(world).interpret` as an interpreter."""
    # Imported here so the fake (and its tests with stand-in interpreters) never wait on the parser's import.
    from xianxia.parsing.rules import RulesParser

    parser = RulesParser(world)

    def interpret(utterance: str, scene: str | None) -> Mapping[str, Any]:
        answer: Mapping[str, Any] = parser.interpret(utterance, ParseContext(scene=scene)).model_dump(mode="json")
        return answer

    return interpret
