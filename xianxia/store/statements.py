"""Every statement both backends run, written once with `?` placeholders (see `Dialect.sql`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from xianxia.store.base import ActionRecord, StoreError
from xianxia.store.codec import ActionRows
from xianxia.store.dialect import Dialect
from xianxia.store.group_commit import conflict_error, duplicate_error
from xianxia.store.schema import LATENCY_COLUMNS

INSERT_PLAYER = (
    "INSERT INTO players (id, name, state, version, actions, token_hash, created_at, updated_at)"
    " VALUES (?, ?, ?, ?, 0, ?, ?, ?)"
)
SELECT_PLAYER = "SELECT state, token_hash, actions, created_at FROM players WHERE id = ?"
COUNT_PLAYERS = "SELECT count(*) AS n FROM players"

UPDATE_PLAYER = (
    "UPDATE players SET state = ?, version = ?, actions = actions + 1, updated_at = ?"
    " WHERE id = ? AND actions = ? AND version = ?"
)
INSERT_LOG = (
    "INSERT INTO action_log (player_id, seq, version, text, intent, parser, outcome, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
INSERT_IDEMPOTENCY = "INSERT INTO idempotency (player_id, key, response, created_at) VALUES (?, ?, ?, ?)"
SELECT_LOG = (
    "SELECT seq, version, text, intent, parser, outcome, created_at FROM action_log"
    " WHERE player_id = ? AND seq > ? ORDER BY seq LIMIT ?"
)
SELECT_IDEMPOTENT = "SELECT response FROM idempotency WHERE player_id = ? AND key = ?"

SELECT_SETTING = "SELECT key, value, updated_at FROM settings WHERE key = ?"
UPSERT_SETTING = (
    "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?)"
    " ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"
    " RETURNING key, value, updated_at"
)

#: Column order of `codec.task_row`.
INSERT_TASK = (
    "INSERT INTO tasks (id, kind, status, payload, result, error, owner, created_at, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
SELECT_TASK = "SELECT * FROM tasks WHERE id = ?"
UPDATE_TASK = "UPDATE tasks SET status = ?, owner = ?, result = ?, error = ?, updated_at = ? WHERE id = ?"
#: Parameters: owner, now, stale_before, stale_before, limit. `{skip_locked}` comes from the dialect.
CLAIM_TASKS = (
    "UPDATE tasks SET owner = ?, updated_at = ?"
    " WHERE status IN ('pending', 'running') AND updated_at < ? AND id IN ("
    "SELECT id FROM tasks WHERE status IN ('pending', 'running') AND updated_at < ?"
    " ORDER BY created_at LIMIT ?{skip_locked})"
    " RETURNING *"
)
#: `{ids}` is `Dialect.in_list("id", …)`.
TOUCH_TASKS = "UPDATE tasks SET updated_at = ? WHERE owner = ? AND status IN ('pending', 'running') AND {ids}"
#: Parameters: owner, now, task id, owner, stale_before. Takes a pending task, one this owner already holds, or
#: one whose holder stopped heartbeating; a task another live owner runs is left alone (no row).
CLAIM_TASK = (
    "UPDATE tasks SET status = 'running', owner = ?, updated_at = ?"
    " WHERE id = ? AND (status = 'pending' OR (status = 'running' AND (owner = ? OR updated_at < ?)))"
    " RETURNING *"
)
#: `{ids}` is `Dialect.in_list("id", …)`.
SELECT_TASK_STATUSES = "SELECT id, status FROM tasks WHERE {ids}"
#: The first answer saved for a prompt wins; a second delivery's copy is dropped.
INSERT_TASK_RESULT = (
    "INSERT INTO task_results (task_id, idx, result, created_at) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (task_id, idx) DO NOTHING"
)
SELECT_TASK_RESULTS = "SELECT idx, result FROM task_results WHERE task_id = ? ORDER BY idx"

#: The rollback watch's samples: one row per worker and flush, summed over a window. `{latency}` is filled once,
#: below, from the schema's column names (constants, never input).
_INSERT_CALLS = "INSERT INTO llm_calls (worker, seq, at, calls, errors, {latency}) VALUES (?, ?, ?, ?, ?, {marks})"
_SUM_CALLS = (
    "SELECT count(DISTINCT worker) AS workers, coalesce(sum(calls), 0) AS calls, coalesce(sum(errors), 0) AS errors,"
    " {latency} FROM llm_calls WHERE at >= ?"
)
INSERT_CALLS = _INSERT_CALLS.format(latency=", ".join(LATENCY_COLUMNS), marks=", ".join("?" * len(LATENCY_COLUMNS)))
SUM_CALLS = _SUM_CALLS.format(latency=", ".join(f"coalesce(sum({name}), 0) AS {name}" for name in LATENCY_COLUMNS))
FORGET_CALLS = "DELETE FROM llm_calls WHERE at < ?"

#: Retention: what may be forgotten once it is old. The action log is never purged (it is the replay source).
PURGE_IDEMPOTENCY = "DELETE FROM idempotency WHERE created_at < ?"
PURGE_TASKS = "DELETE FROM tasks WHERE status IN ('done', 'failed') AND updated_at < ?"


@dataclass(frozen=True, slots=True)
class Step:
    """One statement of an action's savepoint: it must touch exactly one row, else `rejected(action)` is the answer.

    A unique violation counts as touching none.
    """

    sql: str
    params: tuple[Any, ...]
    rejected: Callable[[ActionRecord], StoreError]


def action_steps(dialect: Dialect, rows: ActionRows) -> list[Step]:
    """The statements that commit one action, in order, each with the error its failure means."""
    steps = [
        Step(dialect.sql(UPDATE_PLAYER), rows.player, conflict_error),  # no row: the player moved on
        Step(dialect.sql(INSERT_LOG), rows.log, conflict_error),  # seq taken: another writer won
    ]
    if rows.idempotency is not None:
        steps.append(Step(dialect.sql(INSERT_IDEMPOTENCY), rows.idempotency, duplicate_error))
    return steps
