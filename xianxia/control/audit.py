"""The audit trail of the LLM mode: every change, by hand or automatic, read back from the store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from xianxia.control.mode import SETTING_KEY, ModeState
from xianxia.store.base import AuditRecord, Store

#: The most entries one read returns.
MAX_ENTRIES = 1000


@dataclass(frozen=True, slots=True)
class ModeChange:
    """One mode change as operators read it: who, why (cause and reason), when, from what to what, the figures."""

    id: str
    at: float
    changed_by: str
    cause: str
    reason: str
    origin: str
    old: ModeState | None  # None: the start-up default, never stored before
    new: ModeState | None  # None: a value this release cannot read
    figures: dict[str, Any] | None

    @classmethod
    def of(cls, record: AuditRecord) -> ModeChange:
        old = None if record.old_value is None else ModeState.decode(record.old_value, 0.0)
        return cls(
            id=record.id,
            at=record.at,
            changed_by=record.changed_by,
            cause=record.cause,
            reason=record.reason,
            origin=record.origin,
            old=old,
            new=ModeState.decode(record.new_value, record.at),
            figures=record.figures,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at,
            "changed_by": self.changed_by,
            "cause": self.cause,
            "reason": self.reason,
            "origin": self.origin,
            "from": _mode(self.old),
            "to": _mode(self.new),
            "figures": self.figures,
        }


def _mode(state: ModeState | None) -> dict[str, Any] | None:
    return None if state is None else {"mode": state.mode, "share": state.share}


async def mode_changes(store: Store, limit: int = 100) -> list[ModeChange]:
    """The latest mode changes, newest first."""
    records = await store.audit_log(min(limit, MAX_ENTRIES), key=SETTING_KEY)
    return [ModeChange.of(record) for record in records]
