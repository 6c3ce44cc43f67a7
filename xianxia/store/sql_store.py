"""What both backends do alike, written once: every read and every single-statement write.

A backend supplies four primitives (`_fetch`, `_write`, `_execute`, and its own group commit) and
its dialect; the statements come from `statements`, the parameter checks from `parameters`.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

from xianxia.engine.state import PlayerState
from xianxia.store import changes
from xianxia.store import statements as sql
from xianxia.store.base import (
    CALL_LATENCY_BOUNDS,
    ActionRecord,
    AuditRecord,
    CallSample,
    CallTotals,
    ChangeNote,
    LogEntry,
    PlayerExists,
    PlayerRecord,
    Precondition,
    PurgeCounts,
    SettingChange,
    SettingRecord,
    StoreError,
    TaskRecord,
    TaskStatus,
)
from xianxia.store.codec import (
    Row,
    audit_record,
    dump_json,
    dump_optional_json,
    load_json,
    log_entry,
    player_record,
    setting_record,
    task_record,
    task_row,
)
from xianxia.store.dialect import Dialect
from xianxia.store.group_commit import GroupCommitting
from xianxia.store.parameters import check_integer, check_text
from xianxia.store.schema import LATENCY_COLUMNS


class UniqueViolation(Exception):
    """Internal: a backend's primitive hit a primary key or unique constraint."""


class SQLStore(GroupCommitting):
    """The `Store` contract over a backend's primitives."""

    dialect: ClassVar[Dialect]

    @abstractmethod
    async def _fetch(self, what: str, statement: str, params: Sequence[Any]) -> list[Row]:
        """Rows of a read-only query."""

    @abstractmethod
    async def _write(self, what: str, statement: str, params: Sequence[Any]) -> list[Row]:
        """Run one statement in its own transaction; its RETURNING rows. Raises `UniqueViolation`."""

    @abstractmethod
    async def _execute(self, what: str, statement: str, params: Sequence[Any]) -> int:
        """Run one statement in its own transaction; the number of rows it touched."""

    @abstractmethod
    async def _transact(self, what: str, work: changes.Work) -> SettingChange | None:
        """Drive a unit of work inside one write transaction; what it returns."""

    async def _read(self, what: str, statement: str, *params: Any) -> list[Row]:
        return await self._fetch(what, self.dialect.sql(statement), params)

    async def create_player(self, state: PlayerState, token_hash: str) -> None:
        check_text("player_id", state.id)
        check_text("name", state.name)
        now = time.time()
        params = (state.id, state.name, state.model_dump_json(), state.version, token_hash, now, now)
        try:
            await self._write("create_player", self.dialect.sql(sql.INSERT_PLAYER), params)
        except UniqueViolation as exc:
            raise PlayerExists(f"player {state.id} already exists") from exc

    async def get_player(self, player_id: str) -> PlayerRecord | None:
        check_text("player_id", player_id)
        rows = await self._read("get_player", sql.SELECT_PLAYER, player_id)
        return player_record(rows[0]) if rows else None

    async def commit_action(self, action: ActionRecord) -> None:
        """Queue the action for the next group commit; return once it is durable."""
        await self._committer.submit(action)

    async def get_idempotent(self, player_id: str, key: str) -> dict[str, Any] | None:
        check_text("player_id", player_id)
        check_text("idempotency key", key)
        rows = await self._read("get_idempotent", sql.SELECT_IDEMPOTENT, player_id, key)
        if not rows:
            return None
        response: dict[str, Any] = load_json(rows[0]["response"])
        return response

    async def action_log(self, player_id: str, after_seq: int = 0, limit: int = 1000) -> list[LogEntry]:
        check_text("player_id", player_id)
        check_integer("after", after_seq)
        check_integer("limit", limit)
        rows = await self._read("action_log", sql.SELECT_LOG, player_id, after_seq, limit)
        return [log_entry(row) for row in rows]

    async def count_players(self) -> int:
        rows = await self._read("count_players", sql.COUNT_PLAYERS)
        return int(rows[0]["n"])

    async def get_setting(self, key: str) -> SettingRecord | None:
        check_text("setting key", key)
        rows = await self._read("get_setting", sql.SELECT_SETTING, key)
        return setting_record(rows[0]) if rows else None

    async def set_setting(self, key: str, value: str) -> SettingRecord:
        check_text("setting key", key)
        check_text("setting value", value)
        rows = await self._write("set_setting", self.dialect.sql(sql.UPSERT_SETTING), (key, value, time.time()))
        return setting_record(rows[0])

    async def change_setting(
        self, key: str, value: str, note: ChangeNote, *, only_if: Precondition | None = None, at: float | None = None
    ) -> SettingChange | None:
        for name, text in (("setting key", key), ("setting value", value), ("changed_by", note.changed_by)):
            check_text(name, text)
        for name, text in (("cause", note.cause), ("reason", note.reason), ("origin", note.origin)):
            check_text(name, text)
        if only_if is not None and only_if.value is not None:
            check_text("expected setting value", only_if.value)
        work = changes.change_setting(
            self.dialect, key, value, note, only_if=only_if, now=time.time() if at is None else at
        )
        return await self._transact("change_setting", work)

    async def audit_log(self, limit: int = 100, *, key: str | None = None) -> list[AuditRecord]:
        check_integer("limit", limit)
        if key is None:
            rows = await self._read("audit_log", changes.SELECT_AUDIT, limit)
        else:
            check_text("setting key", key)
            rows = await self._read("audit_log", changes.SELECT_AUDIT_OF_KEY, key, limit)
        return [audit_record(row) for row in rows]

    async def record_llm_calls(self, sample: CallSample) -> None:
        check_text("worker", sample.worker)
        if len(sample.latency) != len(CALL_LATENCY_BOUNDS) + 1:
            raise ValueError(f"a call sample has {len(CALL_LATENCY_BOUNDS) + 1} latency buckets")
        for name, number in (("seq", sample.seq), ("calls", sample.calls), ("errors", sample.errors)):
            check_integer(name, number)
        params = (sample.worker, sample.seq, sample.at, sample.calls, sample.errors, *sample.latency)
        await self._execute("record_llm_calls", self.dialect.sql(sql.INSERT_CALLS), params)

    async def llm_call_totals(self, since: float) -> CallTotals:
        (row,) = await self._read("llm_call_totals", sql.SUM_CALLS, since)
        return CallTotals(  # int(): PostgreSQL sums BIGINT as numeric
            workers=int(row["workers"]),
            calls=int(row["calls"]),
            errors=int(row["errors"]),
            latency=tuple(int(row[name]) for name in LATENCY_COLUMNS),
        )

    async def forget_llm_calls(self, before: float) -> int:
        return await self._execute("forget_llm_calls", self.dialect.sql(sql.FORGET_CALLS), (before,))

    async def create_task(self, task: TaskRecord) -> None:
        check_text("task_id", task.id)
        try:
            await self._write("create_task", self.dialect.sql(sql.INSERT_TASK), task_row(task))
        except UniqueViolation as exc:
            raise StoreError(f"task {task.id} already exists") from exc

    async def get_task(self, task_id: str) -> TaskRecord | None:
        check_text("task_id", task_id)
        rows = await self._read("get_task", sql.SELECT_TASK, task_id)
        return task_record(rows[0]) if rows else None

    async def update_task(
        self,
        task_id: str,
        status: TaskStatus,
        *,
        owner: str | None,
        result: Any = None,
        error: str | None = None,
    ) -> None:
        params = (status, owner, dump_optional_json(result), error, time.time(), task_id)
        await self._execute("update_task", self.dialect.sql(sql.UPDATE_TASK), params)

    async def claim_tasks(self, owner: str, *, stale_before: float, limit: int = 100) -> list[TaskRecord]:
        statement = self.dialect.sql(sql.CLAIM_TASKS.format(skip_locked=self.dialect.skip_locked))
        params = (owner, time.time(), stale_before, stale_before, limit)
        rows = await self._write("claim_tasks", statement, params)
        return sorted((task_record(row) for row in rows), key=lambda task: task.created_at)

    async def touch_tasks(self, owner: str, task_ids: list[str]) -> None:
        if not task_ids:
            return
        ids, id_params = self.dialect.in_list("id", task_ids)
        statement = self.dialect.sql(sql.TOUCH_TASKS.format(ids=ids))
        await self._execute("touch_tasks", statement, (time.time(), owner, *id_params))

    async def claim_task(self, task_id: str, owner: str, *, stale_before: float) -> TaskRecord | None:
        check_text("task_id", task_id)
        params = (owner, time.time(), task_id, owner, stale_before)
        rows = await self._write("claim_task", self.dialect.sql(sql.CLAIM_TASK), params)
        return task_record(rows[0]) if rows else None

    async def task_statuses(self, task_ids: list[str]) -> dict[str, TaskStatus]:
        if not task_ids:
            return {}
        ids, id_params = self.dialect.in_list("id", task_ids)
        rows = await self._fetch("task_statuses", self.dialect.sql(sql.SELECT_TASK_STATUSES.format(ids=ids)), id_params)
        return {str(row["id"]): row["status"] for row in rows}

    async def save_task_result(self, task_id: str, index: int, result: Any) -> None:
        check_text("task_id", task_id)
        check_integer("index", index)
        params = (task_id, index, dump_json(result), time.time())
        await self._execute("save_task_result", self.dialect.sql(sql.INSERT_TASK_RESULT), params)

    async def task_results(self, task_id: str) -> dict[int, Any]:
        check_text("task_id", task_id)
        rows = await self._read("task_results", sql.SELECT_TASK_RESULTS, task_id)
        return {int(row["idx"]): load_json(row["result"]) for row in rows}

    async def purge_expired(self, *, idempotency_before: float, tasks_before: float) -> PurgeCounts:
        """Forget idempotency answers and finished tasks older than the cutoffs; the action log stays."""
        keys = await self._execute("purge_idempotency", self.dialect.sql(sql.PURGE_IDEMPOTENCY), (idempotency_before,))
        tasks = await self._execute("purge_tasks", self.dialect.sql(sql.PURGE_TASKS), (tasks_before,))
        return PurgeCounts(idempotency_keys=keys, tasks=tasks)
