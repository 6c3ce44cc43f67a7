"""`Services.build(settings)`: the one place the services are assembled, opened and closed (in reverse order)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

import httpx
import structlog
from quart import current_app

from xianxia.config import LLMMode, Settings
from xianxia.control.killswitch import SWITCHED_BY, KillSwitch
from xianxia.control.mode import ModeSwitch
from xianxia.control.rollback import ROLLED_BY, RollbackLimits, RollbackWatch
from xianxia.engine import Outcome
from xianxia.engine.intents import IntentParser, ParseResult
from xianxia.game.service import GameService
from xianxia.llm.client import DeepSeekClient
from xianxia.llm.dialogue import NPCDialogue
from xianxia.llm.gateway import LLMGateway
from xianxia.llm.observer import Observers
from xianxia.llm.parser import LLMParser
from xianxia.metrics import Metrics, mark_worker_dead
from xianxia.parsing.rules import RulesParser
from xianxia.process_metrics import ProcessSampler, RecentPlayers
from xianxia.store.base import Store
from xianxia.store.factory import create_store
from xianxia.store.retention import Retention
from xianxia.tasks.runner import TaskQueue, TaskRunner
from xianxia.world import World, load_world

log = structlog.get_logger(__name__)

EXTENSION_KEY = "xianxia"


@dataclass
class ActionMetrics:
    """Counts every action by intent, verdict and parser; the players seen lately feed a gauge.

    With no LLM parser at all (no API key) every parse is a `rules_only` decision; an LLM parser records its own.
    """

    metrics: Metrics
    recent_players: RecentPlayers
    llm_parser: bool

    def __call__(self, outcome: Outcome, parsed: ParseResult) -> None:
        self.recent_players.saw(outcome.state.id)
        self.metrics.action(outcome.intent.intent, outcome.allowed, parsed.parser)
        if parsed.parser == "rules" and not self.llm_parser:
            self.metrics.decision("rules_only")


@dataclass
class Services:
    """Everything routes need; built once per app, opened with `start`, closed with `aclose`."""

    settings: Settings
    world: World
    store: Store
    metrics: Metrics
    modes: ModeSwitch
    kill_switch: KillSwitch
    rollback: RollbackWatch
    rules: RulesParser
    parser: IntentParser
    game: GameService
    gateway: LLMGateway
    tasks: TaskQueue
    sampler: ProcessSampler
    retention: Retention
    client: DeepSeekClient | None = None
    dialogue: NPCDialogue | None = None
    _stack: AsyncExitStack | None = field(default=None, init=False, repr=False)
    _mode: LLMMode | None = field(default=None, init=False, repr=False)

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        world: World | None = None,
        store: Store | None = None,
        llm_transport: httpx.AsyncBaseTransport | None = None,
        llm_sync_transport: httpx.BaseTransport | None = None,
    ) -> Services:
        """Assemble every service from `settings`; `world`, `store` and the LLM transports replace the defaults."""
        world = world if world is not None else load_world(settings.world_dir)
        store = store if store is not None else create_store(settings.database_url)
        metrics = Metrics()
        modes = ModeSwitch(
            store,
            settings.llm_mode,
            llm_available=settings.deepseek_api_key is not None,
            refresh_seconds=settings.mode_refresh_seconds,
        )
        kill_switch = KillSwitch(modes, observer=metrics)
        rollback = RollbackWatch(
            store,
            modes,
            RollbackLimits(
                window_seconds=settings.rollback_window_seconds,
                min_calls=settings.rollback_min_calls,
                error_rate=settings.rollback_error_rate,
                p95_seconds=settings.rollback_p95_seconds,
            ),
            enabled=settings.rollback,
            interval=settings.rollback_interval_seconds,
            observer=metrics,
        )
        rules = RulesParser(world)
        parser: IntentParser = rules
        client: DeepSeekClient | None = None
        dialogue: NPCDialogue | None = None
        if settings.deepseek_api_key is not None:
            client = DeepSeekClient(
                settings,
                world,
                observer=Observers(metrics, rollback.tally),
                transport=llm_transport,
                sync_transport=llm_sync_transport,
                on_fatal=kill_switch.trip,
            )
            mode = _mode_of(modes)
            parser = LLMParser(
                client,
                rules,
                mode=mode,
                budget=settings.llm_parse_budget,
                observer=metrics,
                world=world,
                route=modes.path_for,
            )
            dialogue = NPCDialogue(client, world, mode=mode, budget=settings.llm_parse_budget)
        recent_players = RecentPlayers()
        observe = ActionMetrics(metrics, recent_players, llm_parser=client is not None)
        game = GameService(world, store, parser, dialogue=dialogue, observe=observe)
        gateway = LLMGateway(client, _mode_of(modes), batch_concurrency=settings.llm_max_concurrency)
        tasks = _task_queue(settings, store, gateway, metrics)
        sampler = ProcessSampler(
            metrics,
            probes=(
                lambda: metrics.task_state(*tasks.snapshot()),
                lambda: metrics.players_active.set(recent_players.count()),
            ),
        )
        retention = Retention(
            store,
            idempotency_ttl=settings.idempotency_ttl,
            task_retention=settings.task_retention,
            interval=settings.retention_interval,
        )
        services = cls(
            settings=settings,
            world=world,
            store=store,
            metrics=metrics,
            modes=modes,
            kill_switch=kill_switch,
            rollback=rollback,
            rules=rules,
            parser=parser,
            game=game,
            gateway=gateway,
            tasks=tasks,
            sampler=sampler,
            retention=retention,
            client=client,
            dialogue=dialogue,
        )
        modes.subscribe(services.mode_changed)
        return services

    def mode_changed(self, mode: LLMMode) -> None:
        """Follow a new mode: the gauges; re-arm the client's 401/402 latch whenever the LLM is back on, and close
        its circuit when it comes back from `off`."""
        previous, self._mode = self._mode, mode
        self.metrics.mode(mode)
        self.metrics.llm_share.set(self.modes.share if mode == "async" else 0.0)
        rolled_back = mode == "off" and self.modes.state.changed_by in (SWITCHED_BY, ROLLED_BY)
        self.metrics.llm_rolled_back.set(1 if rolled_back else 0)
        if mode != "off" and self.client is not None:
            self.client.rearm_fatal()  # switched back on: the next 401/402 must switch it off again
            if previous == "off":
                self.client.reset_circuit()

    async def start(self) -> None:
        """Open every service in dependency order; on failure, close what was opened and re-raise."""
        stack = AsyncExitStack()
        stack.callback(mark_worker_dead, os.getpid())
        try:
            await _open(stack, "store", self.store.open, self.store.close)
            await _open(stack, "modes", self.modes.start, self.modes.stop)
            self.kill_switch.bind(asyncio.get_running_loop())
            stack.push_async_callback(_closed, "kill_switch", self.kill_switch.aclose)
            await _open(stack, "rollback", self.rollback.start, self.rollback.stop)
            if self.client is not None:
                await _open(stack, "llm_client", self.client.start, self.client.aclose)
            await _open(stack, "tasks", self.tasks.start, self.tasks.stop)
            await _open(stack, "sampler", self.sampler.start, self.sampler.stop)
            await _open(stack, "retention", self.retention.start, self.retention.stop)
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack

    async def aclose(self) -> None:
        """Close what `start` opened, last opened first. Idempotent."""
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()


def _task_queue(settings: Settings, store: Store, gateway: LLMGateway, metrics: Metrics) -> TaskQueue:
    """Celery workers when a broker is configured (several machines), else this process's runner."""
    if settings.task_broker is not None:
        # Imported here: an instance without a broker never loads Celery.
        from xianxia.tasks.celery_app import create_celery
        from xianxia.tasks.celery_queue import CeleryTaskQueue

        return CeleryTaskQueue(
            store,
            create_celery(settings),
            queue=settings.task_queue,
            refresh_seconds=settings.task_heartbeat_seconds,
            observer=metrics,
        )
    return TaskRunner(
        store,
        {"llm_batch": gateway.run_batch_task},
        heartbeat_seconds=settings.task_heartbeat_seconds,
        stale_after=settings.task_stale_seconds,
        max_running=settings.task_max_running,
        observer=metrics,
    )


def _mode_of(modes: ModeSwitch) -> Callable[[], LLMMode]:
    """The mode in force, read at each call (it follows the store)."""
    return lambda: modes.current


async def _open(
    stack: AsyncExitStack, name: str, opener: Callable[[], Awaitable[None]], closer: Callable[[], Awaitable[None]]
) -> None:
    await opener()
    stack.push_async_callback(_closed, name, closer)


async def _closed(name: str, closer: Callable[[], Awaitable[None]]) -> None:
    await closer()
    log.debug("service_closed", service=name)


def services() -> Services:
    """The services of the app handling the current request."""
    found: Services = current_app.extensions[EXTENSION_KEY]
    return found
