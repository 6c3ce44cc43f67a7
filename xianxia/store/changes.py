"""A setting change with its audit entry, as one unit of work both backends run in a single transaction.

Written like the migration runner: a generator that yields the statements it wants run and is sent their
answers, so SQLite's writer thread and asyncpg's coroutines drive the same logic.
"""

from __future__ import annotations

import uuid
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from xianxia.store.base import AuditRecord, ChangeNote, Precondition, SettingChange
from xianxia.store.codec import Row, dump_optional_json, setting_record
from xianxia.store.dialect import Dialect

#: `{for_update}` comes from the dialect: hold the row until the change commits.
SELECT_SETTING_VALUE = "SELECT value FROM settings WHERE key = ?{for_update}"
UPSERT_SETTING = (
    "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?)"
    " ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"
    " RETURNING key, value, updated_at"
)
#: When nothing was stored yet: of two first writers, the second inserts nothing.
INSERT_SETTING_IF_ABSENT = (
    "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?)"
    " ON CONFLICT (key) DO NOTHING RETURNING key, value, updated_at"
)
INSERT_AUDIT = (
    "INSERT INTO audit_log (id, at, key, old_value, new_value, changed_by, cause, reason, figures, origin)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
SELECT_AUDIT = "SELECT * FROM audit_log ORDER BY at DESC, id DESC LIMIT ?"
SELECT_AUDIT_OF_KEY = "SELECT * FROM audit_log WHERE key = ? ORDER BY at DESC, id DESC LIMIT ?"


@dataclass(frozen=True)
class Query:
    """Run a statement; the unit is sent back the rows it returned."""

    sql: str
    params: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Run:
    """Run a statement; the unit is sent back how many rows it touched."""

    sql: str
    params: tuple[Any, ...] = ()


#: What a unit of work yields, what it is sent back, what it returns.
Work = Generator[Query | Run, Any, SettingChange | None]


def change_setting(
    dialect: Dialect,
    key: str,
    value: str,
    note: ChangeNote,
    *,
    only_if: Precondition | None,
    now: float,
) -> Work:
    """Read the stored value (locked), check the precondition, write the value, then its audit entry."""
    rows: list[Row] = yield Query(dialect.sql(SELECT_SETTING_VALUE.format(for_update=dialect.for_update)), (key,))
    old = rows[0]["value"] if rows else None
    if only_if is not None and old != only_if.value:
        return None
    write = UPSERT_SETTING if old is not None or only_if is None else INSERT_SETTING_IF_ABSENT
    written: list[Row] = yield Query(dialect.sql(write), (key, value, now))
    if not written:  # another process stored a first value between our read and our insert
        return None
    setting = setting_record(written[0])
    audit = AuditRecord(
        id=uuid.uuid4().hex,
        at=setting.updated_at,
        key=key,
        old_value=old,
        new_value=value,
        changed_by=note.changed_by,
        cause=note.cause,
        reason=note.reason,
        figures=note.figures,
        origin=note.origin,
    )
    yield Run(dialect.sql(INSERT_AUDIT), audit_row(audit))
    return SettingChange(setting=setting, audit=audit)


def audit_row(audit: AuditRecord) -> tuple[Any, ...]:
    """An audit entry's values in the column order of `INSERT_AUDIT`."""
    return (
        audit.id,
        audit.at,
        audit.key,
        audit.old_value,
        audit.new_value,
        audit.changed_by,
        audit.cause,
        audit.reason,
        dump_optional_json(audit.figures),
        audit.origin,
    )
