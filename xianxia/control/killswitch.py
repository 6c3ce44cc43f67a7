"""The kill switch: an upstream 401 (key rejected) or 402 (balance exhausted) turns the LLM off everywhere."""

from __future__ import annotations

import asyncio
from typing import Protocol

import structlog

from xianxia.control.mode import ModeSwitch

log = structlog.get_logger(__name__)

SWITCHED_BY = "upstream"


class KillSwitchObserver(Protocol):
    def llm_switched_off(self, status: str) -> None:
        """The upstream answered `status` ("401" or "402") and the LLM is being switched off."""


class KillSwitch:
    """Stores mode `off` for every worker when the upstream refuses the key or the account.

    `trip` may be called from any thread (the sync path's thread pool): the store write is scheduled on the loop
    given to `bind`. Before `bind` (or after `aclose`) a trip is only counted; the client's own latch still stops
    this worker from calling the upstream, and the other workers find out from their own 401/402.
    """

    def __init__(self, modes: ModeSwitch, *, observer: KillSwitchObserver | None = None) -> None:
        self._modes = modes
        self._observer = observer
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: set[asyncio.Task[None]] = set()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Switch off on this loop from now on (the server's loop, once it serves)."""
        self._loop = loop

    def trip(self, reason: str) -> None:
        """The upstream answered 401/402: count it and switch the LLM off for every worker."""
        status = "402" if "402" in reason else "401"
        if self._observer is not None:
            self._observer.llm_switched_off(status)
        loop = self._loop
        if loop is None:
            log.warning("llm_kill_switch_unbound", reason=reason)
            return
        try:
            loop.call_soon_threadsafe(self._schedule, reason)
        except RuntimeError:  # the loop closed between the check and the call: shutting down anyway
            log.warning("llm_kill_switch_unbound", reason=reason)

    @property
    def pending(self) -> int:
        """Switch-offs scheduled whose store write has not finished yet."""
        return len(self._pending)

    async def settle(self) -> None:
        """Wait until every scheduled switch-off has been written (or has failed and been logged)."""
        await asyncio.sleep(0)  # a trip from a thread may still be queued on the loop: let it schedule first
        while self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    async def aclose(self) -> None:
        """Stop scheduling switch-offs and finish those under way (they write to the store, which closes next)."""
        await self.settle()
        self._loop = None
        await self.settle()

    def _schedule(self, reason: str) -> None:
        task = asyncio.get_running_loop().create_task(self._switch_off(reason), name="llm-kill-switch")
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _switch_off(self, reason: str) -> None:
        try:
            status = 402 if "402" in reason else 401
            await self._modes.switch_off(
                changed_by=SWITCHED_BY, cause=f"upstream_{status}", reason=reason, figures={"status": status}
            )
        except Exception:
            # The store is down too: this worker stops calling the upstream anyway (the client's latch).
            log.exception("llm_mode_switch_failed", reason=reason)
