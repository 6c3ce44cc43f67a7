"""The services one app instance holds, hung on `app.extensions` by `create_app`."""

from __future__ import annotations

from dataclasses import dataclass

from quart import current_app

from xianxia.config import Settings
from xianxia.control.mode import ModeSwitch
from xianxia.engine.intents import IntentParser
from xianxia.game.service import GameService
from xianxia.llm.client import DeepSeekClient
from xianxia.llm.gateway import LLMGateway
from xianxia.metrics import Metrics
from xianxia.parsing.rules import RulesParser
from xianxia.store.base import Store
from xianxia.tasks.runner import TaskRunner
from xianxia.world import World

EXTENSION_KEY = "xianxia"


@dataclass
class Services:
    """Everything routes need; built once per app, opened and closed with it."""

    settings: Settings
    world: World
    store: Store
    game: GameService
    rules: RulesParser
    parser: IntentParser
    modes: ModeSwitch
    gateway: LLMGateway
    tasks: TaskRunner
    metrics: Metrics
    client: DeepSeekClient | None = None


def services() -> Services:
    """The services of the app handling the current request."""
    found: Services = current_app.extensions[EXTENSION_KEY]
    return found
