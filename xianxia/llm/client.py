"""The DeepSeek client: one pooled httpx client per process, retries, deadlines, a circuit breaker and bounds."""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import json
import threading
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Literal, TypeVar

import httpx
import structlog

from xianxia.config import Settings
from xianxia.engine.intents import ParseContext, ParsedIntent
from xianxia.llm.breaker import Admission, CircuitBreaker, CircuitState
from xianxia.llm.clock import Clock, monotonic
from xianxia.llm.errors import (
    InvalidLLMOutput,
    LLMAuthError,
    LLMBadAnswer,
    LLMBlankAnswer,
    LLMBusy,
    LLMConnectionError,
    LLMError,
    LLMRateLimited,
    LLMRequestRejected,
    LLMServerError,
    LLMTimeout,
    LLMUnavailable,
    LLMUpstreamError,
    error_type,
)
from xianxia.llm.flight import PlayerSlots, SingleFlight, ThreadSingleFlight, TTLCache
from xianxia.llm.observer import LLMObserver, NullObserver
from xianxia.llm.prompts import build_chat_messages, build_intent_messages
from xianxia.llm.retry import RETRYABLE_STATUS_CODES, RetryPolicy, parse_retry_after, should_retry
from xianxia.llm.streaming import StreamLimits, UpstreamStream, open_stream
from xianxia.llm.transport import default_async_transport, default_sync_transport, is_timeout
from xianxia.llm.validation import validate_intent_answer
from xianxia.world import World

log = structlog.get_logger(__name__)

T = TypeVar("T")
Kind = Literal["chat", "parse"]

COMPLETIONS_PATH = "/chat/completions"
#: A chat completion is a few KiB; anything far larger is not an answer we want in memory.
MAX_ANSWER_BYTES = 2 * 1024 * 1024
CACHE_SIZE = 1024
CACHE_TTL = 300.0
INTENT_FIELDS = {"intent", "slots", "allowed", "reason"}
#: The request field DeepSeek identifies an end user by (a pseudonym: `player_hash`).
USER_FIELD = "user_id"

#: The monotonic deadline of a call queued for the thread pool: its time in the queue counts against its budget.
_queued_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("llm_queued_deadline", default=None)


def player_hash(player_id: str | None) -> str | None:
    """DeepSeek's `user` field: a stable pseudonym, never the player's id itself."""
    if player_id is None:
        return None
    return hashlib.sha256(player_id.encode()).hexdigest()[:16]


class DeepSeekClient:
    """DeepSeek's OpenAI-compatible `/chat/completions`, async and through a thread pool."""

    def __init__(
        self,
        settings: Settings,
        world: World,
        *,
        observer: LLMObserver | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sync_transport: httpx.BaseTransport | None = None,
        on_fatal: Callable[[str], None] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        sync_sleep: Callable[[float], None] | None = None,
        clock: Clock | None = None,
        wall_clock: Clock | None = None,
    ) -> None:
        self._settings = settings
        self._world = world
        self._observer: LLMObserver = observer if observer is not None else NullObserver()
        self._transport = transport
        self._sync_transport = sync_transport
        self._on_fatal = on_fatal
        self._fatal_armed = True
        self._fatal_lock = threading.Lock()
        self._sleep = sleep if sleep is not None else asyncio.sleep
        self._sync_sleep = sync_sleep if sync_sleep is not None else time.sleep
        self._clock: Clock = clock if clock is not None else monotonic
        self._wall_clock: Clock = wall_clock if wall_clock is not None else time.time  # for Retry-After dates
        self._policy = RetryPolicy.from_settings(settings)
        self._breaker = CircuitBreaker(
            failures=settings.llm_breaker_failures,
            cooldown=settings.llm_breaker_cooldown,
            clock=self._clock,
            on_change=self._observer.circuit,
        )
        self._players = PlayerSlots(settings.llm_per_player_inflight)
        self._thread_slots = threading.BoundedSemaphore(settings.llm_max_concurrency)
        self._cache: TTLCache[str, ParsedIntent] = TTLCache(maxsize=CACHE_SIZE, ttl=CACHE_TTL, clock=self._clock)
        self._flights: SingleFlight[str, ParsedIntent] = SingleFlight()
        self._thread_flights: ThreadSingleFlight[str, ParsedIntent] = ThreadSingleFlight()
        self._slots: asyncio.Semaphore | None = None
        self._client: httpx.AsyncClient | None = None
        self._sync_client: httpx.Client | None = None
        self._async_url = httpx.URL(COMPLETIONS_PATH)
        self._sync_url = httpx.URL(COMPLETIONS_PATH)
        self._executor: ThreadPoolExecutor | None = None

    # -- life cycle --------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the one pooled async client, the sync client and the thread pool."""
        if self._client is not None:
            return
        settings = self._settings
        headers = {"Authorization": f"Bearer {settings.deepseek_api_key}"} if settings.deepseek_api_key else {}
        timeout = httpx.Timeout(settings.llm_timeout, connect=settings.llm_connect_timeout)
        self._slots = asyncio.Semaphore(settings.llm_max_concurrency)
        self._client = httpx.AsyncClient(
            base_url=settings.deepseek_base_url,
            headers=headers,
            timeout=timeout,
            transport=self._transport if self._transport is not None else default_async_transport(settings),
        )
        self._sync_client = httpx.Client(
            base_url=settings.deepseek_base_url,
            headers=headers,
            timeout=timeout,
            transport=self._sync_transport if self._sync_transport is not None else default_sync_transport(settings),
        )
        # Merged with the base URL once: httpx re-parses and re-quotes a relative URL on every request.
        self._async_url = self._client.build_request("POST", COMPLETIONS_PATH).url
        self._sync_url = self._sync_client.build_request("POST", COMPLETIONS_PATH).url
        self._executor = ThreadPoolExecutor(max_workers=settings.llm_max_workers, thread_name_prefix="llm")
        log.info("llm_client_started", base_url=settings.deepseek_base_url, model=settings.deepseek_model)

    async def aclose(self) -> None:
        """Close everything `start` opened; calls nobody waits for any more are cancelled. Idempotent."""
        await self._flights.aclose()
        client, self._client = self._client, None
        sync_client, self._sync_client = self._sync_client, None
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
        if client is not None:
            await client.aclose()
        if sync_client is not None:
            sync_client.close()  # running threads fail fast instead of finishing their calls
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True)
        if client is not None:
            log.info("llm_client_closed")

    @property
    def is_open(self) -> bool:
        """Whether the pooled upstream client is open (between `start` and `aclose`)."""
        return self._client is not None and not self._client.is_closed

    @property
    def open_resources(self) -> tuple[str, ...]:
        """What `start` opened and `aclose` has not closed yet: "async_client", "sync_client", "thread_pool"."""
        opened = (
            ("async_client", self._client is not None and not self._client.is_closed),
            ("sync_client", self._sync_client is not None and not self._sync_client.is_closed),
            ("thread_pool", self._executor is not None),
        )
        return tuple(name for name, is_open in opened if is_open)

    @property
    def circuit_state(self) -> CircuitState:
        return self._breaker.state

    @property
    def flights_in_progress(self) -> int:
        """How many distinct parses are on their way upstream now (identical ones share one)."""
        return len(self._flights)

    def rearm_fatal(self) -> None:
        """Let the next 401/402 call `on_fatal` again: the app calls this whenever the mode goes to async or sync."""
        with self._fatal_lock:
            self._fatal_armed = True

    def reset_circuit(self) -> None:
        """Close the circuit breaker: the LLM is raised again after a switch-off, its calls must reach the upstream.

        Left open, its failing-fast calls would count as errors again and roll the mode straight back.
        """
        self._breaker.reset()

    # -- low level: one chat completion ------------------------------------------------------------------------

    async def complete_async(
        self,
        messages: list[dict[str, str]],
        *,
        json_mode: bool = False,
        user: str | None = None,
        max_tokens: int | None = None,
    ) -> str:
        """One chat completion's content; retried, bounded in time, behind the breaker and the caps."""
        body = self._body(messages, json_mode=json_mode, user=user, max_tokens=max_tokens)
        with self._player_slot("chat", user):
            return await self._call_async("chat", body)

    def complete(
        self,
        messages: list[dict[str, str]],
        *,
        json_mode: bool = False,
        user: str | None = None,
        max_tokens: int | None = None,
    ) -> str:
        """`complete_async` for threads: the sync httpx client and tenacity's `Retrying`."""
        body = self._body(messages, json_mode=json_mode, user=user, max_tokens=max_tokens)
        with self._player_slot("chat", user):
            return self._call_sync("chat", body)

    async def stream_async(
        self,
        messages: list[dict[str, str]],
        *,
        user: str | None = None,
        max_tokens: int | None = None,
    ) -> AsyncGenerator[str, None]:
        """One chat completion streamed as it is written: its text, piece by piece.

        Retried (tenacity, the same policy) only until the first token: once text has been handed on, a
        failure ends the stream with its error. First-token, idle and total (`LLM_TIMEOUT`) limits apply.
        """
        body = self._body(messages, json_mode=False, user=user, max_tokens=max_tokens)
        body["stream"] = True
        with self._player_slot("chat", user):
            started = time.monotonic()
            outcome = "cancelled"
            admission: Admission | None = None
            stream: UpstreamStream | None = None
            try:
                self._require_key()
                client = self._require(self._client)
                slots = self._require(self._slots)
                loop = asyncio.get_running_loop()
                deadline = loop.time() + self._policy.budget
                limits = StreamLimits(
                    first_token=self._settings.llm_first_token_timeout, idle=self._settings.llm_idle_timeout
                )
                admission = self._breaker.acquire()
                retrying = self._policy.async_retrying(
                    "chat", left=self._policy.budget, sleep=self._sleep, on_retry=self._on_retry("chat")
                )
                async for attempt in retrying:
                    with attempt:
                        stream = await open_stream(
                            client,
                            body,
                            limits=limits,
                            deadline=deadline,
                            slots=slots,
                            observer=self._observer,
                            read_answer=lambda response, raw: _answer(response, raw, self._wall_clock),
                            transport_error=_transport_error,
                        )
                assert stream is not None
                yield stream.first
                async for piece in stream.rest():
                    yield piece
                self._breaker.success(admission)
                outcome = "ok"
            except LLMError as exc:
                outcome = self._failed("chat", admission, exc)
                raise
            except BaseException:
                self._release(admission)  # cancelled, or the reader stopped early: no verdict on the upstream
                raise
            finally:
                if stream is not None:
                    await stream.aclose()
                self._observer.request("chat", outcome, time.monotonic() - started)

    # -- the contract ----------------------------------------------------------------------------------

    async def chat_async(self, prompt: str) -> dict[str, str]:
        return {"text": await self.complete_async(build_chat_messages(prompt))}

    def chat(self, prompt: str) -> dict[str, str]:
        return {"text": self.complete(build_chat_messages(prompt))}

    async def parse_async(self, utterance: str, ctx: ParseContext) -> dict[str, Any]:
        """A validated `{intent, slots, allowed, reason}`; identical concurrent parses share one upstream call."""
        self._require_key()
        key = _parse_key(utterance, ctx)
        cached = self._cache.get(key)
        if cached is not None:
            return _intent_dict(cached)
        user = player_hash(ctx.player_id)
        with self._player_slot("parse", user):
            intent = await self._flights.run(key, lambda: self._parse_upstream_async(key, utterance, ctx, user))
        return _intent_dict(intent)

    def parse(self, utterance: str, ctx: ParseContext) -> dict[str, Any]:
        """`parse_async` for threads."""
        self._require_key()
        key = _parse_key(utterance, ctx)
        cached = self._cache.get(key)
        if cached is not None:
            return _intent_dict(cached)
        user = player_hash(ctx.player_id)
        with self._player_slot("parse", user):
            intent = self._thread_flights.run(key, lambda: self._parse_upstream_sync(key, utterance, ctx, user))
        return _intent_dict(intent)

    async def chat_in_thread(self, prompt: str) -> dict[str, str]:
        """`chat` in the client's thread pool (mode "sync")."""
        return await self._in_thread("chat", self.chat, prompt)

    async def parse_in_thread(self, utterance: str, ctx: ParseContext) -> dict[str, Any]:
        """`parse` in the client's thread pool (mode "sync")."""
        return await self._in_thread("parse", self.parse, utterance, ctx)

    # -- parse internals ---------------------------------------------------------------------------------------

    async def _parse_upstream_async(
        self, key: str, utterance: str, ctx: ParseContext, user: str | None
    ) -> ParsedIntent:
        messages = build_intent_messages(utterance, ctx, self._world)
        raw = await self._call_async("parse", self._body(messages, json_mode=True, user=user))
        return self._validated(key, raw, ctx)

    def _parse_upstream_sync(self, key: str, utterance: str, ctx: ParseContext, user: str | None) -> ParsedIntent:
        messages = build_intent_messages(utterance, ctx, self._world)
        raw = self._call_sync("parse", self._body(messages, json_mode=True, user=user))
        return self._validated(key, raw, ctx)

    def _validated(self, key: str, raw: str, ctx: ParseContext) -> ParsedIntent:
        try:
            intent = validate_intent_answer(raw, self._world, ctx)
        except InvalidLLMOutput as exc:
            log.info("llm_answer_invalid", error=str(exc)[:200])
            self._observer.error("parse", error_type(exc))
            raise
        self._cache.put(key, intent)
        return intent

    # -- one call: breaker, retries, reporting -----------------------------------------------------------------

    async def _call_async(self, kind: Kind, body: dict[str, Any]) -> str:
        started = self._clock()
        deadline = started + self._policy.budget
        outcome = "cancelled"
        admission: Admission | None = None
        try:
            self._require_key()
            client = self._require(self._client)
            left = self._time_left(deadline)
            admission = self._breaker.acquire()
            retrying = self._policy.async_retrying(
                kind, left=left, sleep=self._sleep, on_retry=self._on_retry(kind), clock=self._clock
            )
            async for attempt in retrying:
                with attempt:
                    text = await self._attempt_async(client, body, self._time_left(deadline))
            self._breaker.success(admission)
            outcome = "ok"
            return text
        except LLMError as exc:
            outcome = self._failed(kind, admission, exc)
            raise
        except BaseException:
            self._release(admission)  # cancelled: no verdict on the upstream
            raise
        finally:
            self._observer.request(kind, outcome, self._clock() - started, "async")

    def _call_sync(self, kind: Kind, body: dict[str, Any]) -> str:
        started = self._clock()
        queued = _queued_deadline.get()
        deadline = started + self._policy.budget if queued is None else queued
        outcome = "cancelled"
        admission: Admission | None = None
        try:
            self._require_key()
            client = self._require(self._sync_client)
            left = self._time_left(deadline)  # a call that queued its whole budget away says nothing of the upstream
            admission = self._breaker.acquire()
            retrying = self._policy.retrying(
                kind, left=left, sleep=self._sync_sleep, on_retry=self._on_retry(kind), clock=self._clock
            )
            for attempt in retrying:
                with attempt:
                    text = self._attempt_sync(client, body, self._time_left(deadline))
            self._breaker.success(admission)
            outcome = "ok"
            return text
        except LLMError as exc:
            outcome = self._failed(kind, admission, exc)
            raise
        except BaseException:
            self._release(admission)  # cancelled: no verdict on the upstream
            raise
        finally:
            self._observer.request(kind, outcome, self._clock() - started, "sync")

    def _time_left(self, deadline: float) -> float:
        """What is left of the call's total budget (`llm_timeout`): the next attempt's deadline."""
        left = deadline - self._clock()
        if left <= 0:
            raise LLMTimeout("the LLM call's total time budget is spent")
        return left

    def _failed(self, kind: Kind, admission: Admission | None, exc: LLMError) -> str:
        """Settle the breaker and report a failed call; the outcome label."""
        if admission is None:
            pass  # refused before the breaker let it in (off, not started, circuit open)
        elif should_retry(exc):
            self._breaker.failure(admission)  # the upstream is unwell
        elif isinstance(exc, LLMUpstreamError | LLMBadAnswer):
            self._breaker.success(admission)  # it answered: it is up, our request or its answer was at fault
        else:
            self._breaker.release(admission)  # refused here (busy): says nothing of the upstream
        label = error_type(exc)
        self._observer.error(kind, label)
        if isinstance(exc, LLMAuthError):
            self._fatal(exc)
        else:
            log.info("llm_call_failed", kind=kind, error_type=label, error=str(exc)[:200])
        return label

    def _release(self, admission: Admission | None) -> None:
        if admission is not None:
            self._breaker.release(admission)

    def _on_retry(self, kind: Kind) -> Callable[[str, object], None]:
        def report(reason: str, _state: object) -> None:
            self._observer.retry(kind, reason)

        return report

    def _fatal(self, exc: LLMAuthError) -> None:
        reason = (
            "DeepSeek API key rejected (401)" if exc.status_code == 401 else "DeepSeek account balance exhausted (402)"
        )
        log.error("llm_auth_failed", status=exc.status_code, reason=reason)
        # At most one on_fatal per armed period: concurrent 402s switch the LLM off once; `rearm_fatal` re-arms.
        with self._fatal_lock:
            armed, self._fatal_armed = self._fatal_armed, False
        if armed and self._on_fatal is not None:
            self._on_fatal(reason)

    # -- one attempt -------------------------------------------------------------------------------------------

    async def _attempt_async(self, client: httpx.AsyncClient, body: dict[str, Any], seconds: float) -> str:
        slots = self._require(self._slots)
        # One deadline for the slot and the request: the wait for a slot is part of the call's budget.
        deadline = self._clock() + seconds
        try:
            async with asyncio.timeout(seconds):
                await slots.acquire()
        except TimeoutError:
            raise LLMBusy(f"no free LLM slot within {seconds:.1f}s") from None
        self._observer.inflight(1)
        try:
            # httpx's timeouts are per read: DeepSeek under load keeps a connection alive with blank lines.
            async with asyncio.timeout(max(0.001, deadline - self._clock())):
                async with client.stream("POST", self._async_url, json=body) as response:
                    raw = bytearray()
                    async for chunk in response.aiter_bytes():
                        _append(raw, chunk)
        except TimeoutError:
            raise LLMTimeout(f"no complete answer within {seconds:.1f}s") from None
        except httpx.TransportError as exc:
            raise _transport_error(exc) from exc
        finally:
            slots.release()
            self._observer.inflight(-1)
        return _answer(response, bytes(raw), self._wall_clock)

    def _attempt_sync(self, client: httpx.Client, body: dict[str, Any], timeout: float) -> str:
        deadline = self._clock() + timeout  # the wait for a slot is part of the call's budget
        if not self._thread_slots.acquire(timeout=timeout):
            raise LLMBusy(f"no free LLM slot within {timeout:.1f}s")
        self._observer.inflight(1)
        left = max(0.001, deadline - self._clock())
        per_read = httpx.Timeout(left, connect=min(self._settings.llm_connect_timeout, left))
        try:
            with client.stream("POST", self._sync_url, json=body, timeout=per_read) as response:
                raw = bytearray()
                # No asyncio.timeout here: the deadline is checked as each chunk (a keep-alive line too) arrives.
                for chunk in response.iter_bytes():
                    _append(raw, chunk)
                    if self._clock() > deadline:
                        raise LLMTimeout(f"no complete answer within {timeout:.1f}s")
        except httpx.TransportError as exc:
            raise _transport_error(exc) from exc
        finally:
            self._thread_slots.release()
            self._observer.inflight(-1)
        return _answer(response, bytes(raw), self._wall_clock)

    # -- helpers -----------------------------------------------------------------------------------------------

    def _body(
        self, messages: list[dict[str, str]], *, json_mode: bool, user: str | None, max_tokens: int | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self._settings.deepseek_model, "messages": messages, "stream": False}
        if json_mode:
            body["response_format"] = {"type": "json_object"}
        if user is not None:
            body[USER_FIELD] = user
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        return body

    @contextmanager
    def _player_slot(self, kind: Kind, user: str | None) -> Iterator[None]:
        """Hold one of the player's in-flight slots (no cap without a player)."""
        if user is None:
            yield
            return
        try:
            self._players.acquire(user)
        except LLMBusy as exc:
            self._observer.error(kind, error_type(exc))
            self._observer.request(kind, error_type(exc), 0.0)
            raise
        try:
            yield
        finally:
            self._players.release(user)

    async def _in_thread(self, kind: Kind, func: Callable[..., T], *args: Any) -> T:
        executor = self._require(self._executor)
        budget = self._policy.budget
        deadline = self._clock() + budget

        def run() -> T:
            # A call that waited its whole budget for a free thread is refused rather than started late.
            if self._clock() >= deadline:
                self._observer.error(kind, "busy")
                raise LLMBusy(f"no free LLM worker thread within {budget:.1f}s")
            _queued_deadline.set(deadline)  # the time spent queued counts against the call's budget
            return func(*args)

        context = contextvars.copy_context()  # structlog's bound request values follow the call into the thread
        return await asyncio.get_running_loop().run_in_executor(executor, context.run, run)

    def _require_key(self) -> None:
        if self._settings.deepseek_api_key is None:
            raise LLMUnavailable("the LLM is off: DEEPSEEK_API_KEY is not set")

    @staticmethod
    def _require(resource: T | None) -> T:
        if resource is None:
            raise LLMUnavailable("the LLM client is not started (or already closed)")
        return resource


def _append(raw: bytearray, chunk: bytes) -> None:
    raw += chunk
    if len(raw) > MAX_ANSWER_BYTES:
        raise LLMBadAnswer(f"answer larger than {MAX_ANSWER_BYTES} bytes")


def _transport_error(exc: httpx.TransportError) -> LLMError:
    if isinstance(exc, httpx.TimeoutException) and is_timeout(exc):
        return LLMTimeout(f"upstream timed out: {type(exc).__name__}")
    return LLMConnectionError(f"upstream unreachable: {type(exc.__cause__ or exc).__name__}: {exc}")


def _answer(response: httpx.Response, raw: bytes, now: Clock) -> str:
    """The assistant message's content, or the error the status and body call for."""
    status = response.status_code
    if status >= 300:
        raise _status_error(status, response.headers.get("retry-after"), raw, now)
    if not raw.strip():
        raise LLMBlankAnswer("empty answer body")
    try:
        content = json.loads(raw)["choices"][0]["message"]["content"]
    except ValueError:
        raise LLMBadAnswer("answer body is not JSON") from None
    except (KeyError, IndexError, TypeError):
        raise LLMBadAnswer("answer has no choices[0].message.content") from None
    if content is None or (isinstance(content, str) and not content.strip()):
        raise LLMBlankAnswer("blank answer content")
    if not isinstance(content, str):
        raise LLMBadAnswer("answer content is not text")
    return content


def _status_error(status: int, retry_after: str | None, raw: bytes, now: Clock) -> LLMUpstreamError:
    message = f"upstream answered {status}: {raw[:200].decode('utf-8', 'replace')}"
    wait = parse_retry_after(retry_after, now=now)
    if status in (401, 402):
        return LLMAuthError(message, status_code=status)
    if status == 429:
        return LLMRateLimited(message, status_code=status, retry_after=wait)
    if status >= 500:
        return LLMServerError(message, status_code=status, retry_after=wait)
    if status in RETRYABLE_STATUS_CODES:
        return LLMUpstreamError(message, status_code=status, retry_after=wait)
    return LLMRequestRejected(message, status_code=status)


def _parse_key(utterance: str, ctx: ParseContext) -> str:
    # The player's id is not in the prompt and does not change the answer: players in the same spot share it.
    return utterance + "\x00" + ctx.model_dump_json(exclude={"player_id"})


def _intent_dict(intent: ParsedIntent) -> dict[str, Any]:
    return intent.model_dump(include=INTENT_FIELDS)
