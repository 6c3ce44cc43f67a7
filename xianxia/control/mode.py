"""The LLM mode switch, kept in the store so every worker and instance follows it within seconds."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import structlog

from xianxia.config import LLM_MODES, LLMMode
from xianxia.llm.clock import Clock
from xianxia.store.base import ChangeNote, Precondition, SettingChange, Store, StoreError

log = structlog.get_logger(__name__)

SETTING_KEY = "llm_mode"

#: The audit entry's cause when an operator sets the mode (PUT /api/admin/mode, make mode, toggle_async.sh).
MANUAL = "manual"


def this_worker() -> str:
    """Where an automatic change comes from, for the audit log: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True, slots=True)
class ModeState:
    """The requested mode, the share of players it applies to, why and by whom it was set, and when.

    `share` matters in mode `async`: that fraction of players (by a stable hash of their id) takes the async
    path, the rest the path it replaces (`sync`).
    """

    mode: LLMMode
    reason: str = ""
    changed_by: str = "startup"
    updated_at: float = 0.0
    share: float = 1.0

    def encode(self) -> str:
        return json.dumps(
            {"mode": self.mode, "share": self.share, "reason": self.reason, "changed_by": self.changed_by},
            ensure_ascii=False,
        )

    @classmethod
    def decode(cls, raw: str, updated_at: float) -> ModeState | None:
        try:
            data: Any = json.loads(raw)
        except ValueError:
            return None
        if not isinstance(data, dict) or data.get("mode") not in LLM_MODES:
            return None
        share = data.get("share", 1.0)
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0.0 <= share <= 1.0:
            share = 1.0
        return cls(
            share=float(share),
            mode=cast(LLMMode, data["mode"]),
            reason=str(data.get("reason", "")),
            changed_by=str(data.get("changed_by", "")),
            updated_at=updated_at,
        )


def player_bucket(player_id: str | None) -> float:
    """A stable number in [0, 1) for a player: the same on every worker, instance and restart."""
    digest = hashlib.sha256((player_id or "").encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class ModeSwitch:
    """Holds this worker's view of the mode and polls the store for changes made elsewhere."""

    def __init__(
        self,
        store: Store,
        default: LLMMode,
        *,
        llm_available: bool,
        refresh_seconds: float = 0.5,
        on_change: Callable[[LLMMode], None] | None = None,
        clock: Clock = time.time,
    ) -> None:
        self._store = store
        self._clock = clock  # wall time: a change's stamp, which the rollback watch's window starts from
        self._llm_available = llm_available
        self._refresh_seconds = refresh_seconds
        self._listeners: list[Callable[[LLMMode], None]] = [on_change] if on_change is not None else []
        self._state = ModeState(mode=default)
        self._stored: str | None = None  # the stored value as last read or written (None: nothing stored yet)
        self._poller: asyncio.Task[None] | None = None

    def subscribe(self, listener: Callable[[LLMMode], None]) -> None:
        """Call `listener` with the mode in force whenever it changes (and once when the switch starts)."""
        self._listeners.append(listener)

    @property
    def state(self) -> ModeState:
        return self._state

    @property
    def requested(self) -> LLMMode:
        """The mode operators asked for."""
        return self._state.mode

    @property
    def current(self) -> LLMMode:
        """The mode in force here: `off` whenever the LLM cannot be used at all (no API key)."""
        return self._state.mode if self._llm_available else "off"

    @property
    def share(self) -> float:
        """The share of players on the async path while the mode is `async` (1.0: everyone)."""
        return self._state.share

    def path_for(self, player_id: str | None) -> LLMMode:
        """The path this player's LLM work takes now: the same player always lands on the same side of the share."""
        current = self.current
        if current != "async" or self._state.share >= 1.0:
            return current
        return "async" if player_bucket(player_id) < self._state.share else "sync"

    @property
    def unavailable_reason(self) -> str | None:
        return None if self._llm_available else "DEEPSEEK_API_KEY is not set"

    async def start(self) -> None:
        """Adopt the stored mode, if any (it wins over the start-up default), and follow it from now on."""
        default = self._state.mode
        await self.refresh()
        if self._state.mode != default:
            log.warning(
                "llm_mode_from_store",
                configured=default,
                stored=self._state.mode,
                changed_by=self._state.changed_by,
                reason=self._state.reason,
            )
        self._announce()
        self._poller = asyncio.create_task(self._poll(), name="mode-switch-poller")

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None

    async def set(
        self,
        mode: LLMMode,
        *,
        changed_by: str,
        reason: str = "",
        share: float = 1.0,
        cause: str = MANUAL,
        origin: str = "",
        figures: dict[str, Any] | None = None,
    ) -> tuple[ModeState, ModeState]:
        """Store a new mode (and rollout share) for every worker, with its audit entry; answers (old, new)."""
        old = self._state
        new = ModeState(mode=mode, reason=reason, changed_by=changed_by, share=share)
        note = ChangeNote(changed_by=changed_by, cause=cause, reason=reason, figures=figures, origin=origin)
        change = await self._store.change_setting(SETTING_KEY, new.encode(), note, at=self._clock())
        assert change is not None  # an unconditional change is always written
        return old, self._changed(old, new, change)

    async def switch_off(
        self,
        *,
        changed_by: str,
        cause: str,
        reason: str,
        figures: dict[str, Any] | None = None,
        judged: ModeState | None = None,
    ) -> ModeState | None:
        """Roll back to `off` for every worker, once: None when it is off already or changed meanwhile.

        The change is made only if the stored mode is still the one this worker read, so of several workers
        (or instances) tripping at once exactly one writes it (and its audit entry). `judged` is the mode the
        decision was made under: a change made since (an operator's) is never overwritten by a judgement on
        what came before it.
        """
        await self.refresh()
        old = self._state
        if old.mode == "off" or (judged is not None and judged.updated_at != old.updated_at):
            return None
        new = ModeState(mode="off", reason=reason, changed_by=changed_by, share=old.share)
        note = ChangeNote(changed_by=changed_by, cause=cause, reason=reason, figures=figures, origin=this_worker())
        change = await self._store.change_setting(SETTING_KEY, new.encode(), note, only_if=Precondition(self._stored))
        if change is None:
            log.info("llm_mode_switch_off_lost", cause=cause, reason=reason)
            await self.refresh()
            return None
        return self._changed(old, new, change)

    def _changed(self, old: ModeState, new: ModeState, change: SettingChange) -> ModeState:
        """Adopt a change this worker wrote, and log it."""
        new = ModeState(
            mode=new.mode,
            reason=new.reason,
            changed_by=new.changed_by,
            updated_at=change.setting.updated_at,
            share=new.share,
        )
        self._stored = change.setting.value
        self._adopt(new)
        log.warning(
            "llm_mode_changed",
            old=old.mode,
            new=new.mode,
            old_share=old.share,
            share=new.share,
            changed_by=new.changed_by,
            cause=change.audit.cause,
            reason=new.reason,
            figures=change.audit.figures,
        )
        return new

    async def refresh(self) -> None:
        """Read the stored mode once; a change made on another worker is adopted here."""
        record = await self._store.get_setting(SETTING_KEY)
        if record is None:
            return
        self._stored = record.value
        stored = ModeState.decode(record.value, record.updated_at)
        if stored is None:
            log.error("llm_mode_unreadable", value=record.value[:200])
            return
        if stored.mode != self._state.mode or stored.share != self._state.share:
            log.info(
                "llm_mode_followed",
                old=self._state.mode,
                new=stored.mode,
                share=stored.share,
                changed_by=stored.changed_by,
            )
        self._adopt(stored)

    def _adopt(self, state: ModeState) -> None:
        changed = state.mode != self._state.mode or state.share != self._state.share
        self._state = state
        if changed:
            self._announce()

    def _announce(self) -> None:
        for listener in self._listeners:
            listener(self.current)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_seconds)
            try:
                await self.refresh()
            except StoreError as exc:
                log.warning("llm_mode_refresh_failed", error=str(exc))
