"""Rows to records and back: JSON text that keeps Chinese intact, shared by every backend."""

from __future__ import annotations

import json
from typing import Any, NamedTuple, Protocol

from xianxia.engine.state import PlayerState
from xianxia.store.base import ActionRecord, AuditRecord, LogEntry, PlayerRecord, SettingRecord, TaskRecord

# One encoder, built once: json.dumps with options would build a new one per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


class Row(Protocol):
    """What both drivers' rows offer: access by column name."""

    def __getitem__(self, key: str, /) -> Any: ...


def dump_json(value: Any) -> str:
    """Compact JSON with non-ASCII kept as is (narration is Chinese)."""
    return _ENCODER.encode(value)


def dump_optional_json(value: Any) -> str | None:
    return None if value is None else dump_json(value)


def load_json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def task_row(task: TaskRecord) -> tuple[Any, ...]:
    """A task's values in the column order of `statements.INSERT_TASK`."""
    return (
        task.id,
        task.kind,
        task.status,
        dump_json(task.payload),
        dump_optional_json(task.result),
        task.error,
        task.owner,
        task.created_at,
        task.updated_at,
    )


def player_record(row: Row) -> PlayerRecord:
    return PlayerRecord(
        state=PlayerState.model_validate_json(row["state"]),
        token_hash=row["token_hash"],
        actions=row["actions"],
        created_at=row["created_at"],
    )


def log_entry(row: Row) -> LogEntry:
    return LogEntry(
        seq=row["seq"],
        version=row["version"],
        text=row["text"],
        intent=json.loads(row["intent"]),
        parser=row["parser"],
        outcome=json.loads(row["outcome"]),
        created_at=row["created_at"],
    )


def setting_record(row: Row) -> SettingRecord:
    return SettingRecord(key=row["key"], value=row["value"], updated_at=row["updated_at"])


def audit_record(row: Row) -> AuditRecord:
    return AuditRecord(
        id=row["id"],
        at=row["at"],
        key=row["key"],
        old_value=row["old_value"],
        new_value=row["new_value"],
        changed_by=row["changed_by"],
        cause=row["cause"],
        reason=row["reason"],
        figures=load_json(row["figures"]),
        origin=row["origin"],
    )


def task_record(row: Row) -> TaskRecord:
    return TaskRecord(
        id=row["id"],
        kind=row["kind"],
        status=row["status"],
        payload=json.loads(row["payload"]),
        result=load_json(row["result"]),
        error=row["error"],
        owner=row["owner"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


class ActionRows(NamedTuple):
    """An action's statement parameters, encoded once; both backends use this column order."""

    player: tuple[str, int, float, str, int, int]  # state, version, updated_at; id, actions, version guard
    log: tuple[str, int, int, str | None, str, str, str, float]
    idempotency: tuple[str, str, str, float] | None


def action_rows(action: ActionRecord, now: float) -> ActionRows:
    created = action.created_at or now
    key = action.idempotency_key
    return ActionRows(
        player=(
            action.state.model_dump_json(),
            action.state.version,
            now,
            action.player_id,
            action.expected_actions,
            action.expected_version,
        ),
        log=(
            action.player_id,
            action.seq,
            action.state.version,
            action.text,
            dump_json(action.intent),
            action.parser,
            dump_json(action.outcome),
            created,
        ),
        idempotency=None if key is None else (action.player_id, key, dump_json(action.response), created),
    )
