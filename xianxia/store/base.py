"""The store interface: players, their action log, idempotency keys, settings and tasks.

Every backend (SQLite now, PostgreSQL for several machines) implements `Store`.
An action is committed as one unit — new state, log entry, idempotency answer —
guarded by the player's `(version, actions)` pair, so concurrent writers on one
player (coroutines, workers or machines) can never lose an update: the loser
gets `VersionConflict` and recomputes from the fresh state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from xianxia.engine.state import PlayerState

TaskStatus = Literal["pending", "running", "done", "failed"]


class StoreError(Exception):
    """Base class of store failures."""


class StoreUnavailable(StoreError):
    """The database cannot be reached or answered with an error."""


class PlayerExists(StoreError):
    """A player with this id already exists."""


class VersionConflict(StoreError):
    """The player changed since it was read; reload and retry."""


class DuplicateIdempotencyKey(StoreError):
    """An action with this idempotency key was already committed for the player."""


class InvalidParameter(StoreError):
    """A value no backend can hold (an integer out of range, a NUL in text); nothing was read or written."""


@dataclass(frozen=True, slots=True)
class PlayerRecord:
    """A stored player: its state, its token's hash and how many actions it has logged."""

    state: PlayerState
    token_hash: str
    actions: int
    created_at: float


@dataclass(frozen=True, slots=True)
class ActionRecord:
    """One action to commit. `state.version` may equal `expected_version` (a refused action)."""

    player_id: str
    expected_version: int
    expected_actions: int
    state: PlayerState
    text: str | None
    intent: dict[str, Any]
    parser: str
    outcome: dict[str, Any]
    response: dict[str, Any]
    idempotency_key: str | None = None
    created_at: float = 0.0

    @property
    def seq(self) -> int:
        """Position of this action in the player's log, counting from 1."""
        return self.expected_actions + 1


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One entry of a player's action log."""

    seq: int
    version: int
    text: str | None
    intent: dict[str, Any]
    parser: str
    outcome: dict[str, Any]
    created_at: float


@dataclass(frozen=True, slots=True)
class TaskRecord:
    """A queued LLM batch, visible to every worker."""

    id: str
    kind: str
    status: TaskStatus
    payload: dict[str, Any]
    result: Any = None
    error: str | None = None
    owner: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass(frozen=True, slots=True)
class SettingRecord:
    key: str
    value: str
    updated_at: float = field(default=0.0)


@dataclass(frozen=True, slots=True)
class ChangeNote:
    """Who changes a setting and why: written to the audit log in the same transaction as the change."""

    changed_by: str
    cause: str
    reason: str = ""
    figures: dict[str, Any] | None = None
    origin: str = ""  # where it came from: the worker (host:pid), a client address, a request id


@dataclass(frozen=True, slots=True)
class Precondition:
    """Change a setting only if its stored value is still `value` (None: nothing stored yet)."""

    value: str | None


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One change of a setting, kept for good: the note, the values before and after, and when."""

    id: str
    at: float
    key: str
    old_value: str | None
    new_value: str
    changed_by: str
    cause: str
    reason: str
    figures: dict[str, Any] | None
    origin: str


@dataclass(frozen=True, slots=True)
class SettingChange:
    """A setting change that was written: the new record and its audit entry."""

    setting: SettingRecord
    audit: AuditRecord


#: The `le` bounds (seconds) of the latency histogram kept per flush of LLM calls; a +Inf bucket follows.
CALL_LATENCY_BOUNDS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass(frozen=True, slots=True)
class CallSample:
    """One worker's LLM calls between two flushes: how many, how many failed, and their latency histogram.

    `latency` counts calls per bucket of `CALL_LATENCY_BOUNDS` (not cumulative), the +Inf bucket last.
    """

    worker: str
    seq: int
    at: float
    calls: int
    errors: int
    latency: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class CallTotals:
    """LLM calls summed over every worker's samples in a window, and how many workers sent them."""

    workers: int
    calls: int
    errors: int
    latency: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class PurgeCounts:
    """What one retention pass forgot."""

    idempotency_keys: int
    tasks: int


class Store(Protocol):
    """Persistence for the game and the LLM service. All methods are coroutines."""

    async def open(self) -> None:
        """Connect and apply migrations; safe when several processes start at once."""

    async def close(self) -> None:
        """Flush pending writes and release connections."""

    async def ping(self) -> None:
        """Raise `StoreUnavailable` unless the database answers."""

    async def create_player(self, state: PlayerState, token_hash: str) -> None: ...

    async def get_player(self, player_id: str) -> PlayerRecord | None: ...

    async def commit_action(self, action: ActionRecord) -> None:
        """Persist state, log entry and idempotency answer atomically before returning.

        Raises `VersionConflict` when the player moved on, `DuplicateIdempotencyKey`
        when the key was used already; in both cases nothing is written.
        """

    async def get_idempotent(self, player_id: str, key: str) -> dict[str, Any] | None: ...

    async def action_log(self, player_id: str, after_seq: int = 0, limit: int = 1000) -> list[LogEntry]: ...

    async def count_players(self) -> int: ...

    async def get_setting(self, key: str) -> SettingRecord | None: ...

    async def set_setting(self, key: str, value: str) -> SettingRecord: ...

    async def change_setting(
        self, key: str, value: str, note: ChangeNote, *, only_if: Precondition | None = None, at: float | None = None
    ) -> SettingChange | None:
        """Store `value` and its audit entry in one transaction; None (nothing written) if `only_if` fails.

        `at` stamps both (seconds since the epoch; default: now).
        With `only_if`, of several processes making the same change from the same value exactly one wins.
        """

    async def audit_log(self, limit: int = 100, *, key: str | None = None) -> list[AuditRecord]:
        """The latest setting changes (of `key`, or of every setting), newest first."""

    async def record_llm_calls(self, sample: CallSample) -> None:
        """Keep one worker's flush of LLM call counts (for the rollback watch of every worker)."""

    async def llm_call_totals(self, since: float) -> CallTotals:
        """The LLM call counts of every worker's samples taken at or after `since`, summed."""

    async def forget_llm_calls(self, before: float) -> int:
        """Delete call samples taken before `before`; how many. Safe from several workers at once."""

    async def create_task(self, task: TaskRecord) -> None: ...

    async def get_task(self, task_id: str) -> TaskRecord | None: ...

    async def update_task(
        self,
        task_id: str,
        status: TaskStatus,
        *,
        owner: str | None,
        result: Any = None,
        error: str | None = None,
    ) -> None: ...

    async def claim_tasks(self, owner: str, *, stale_before: float, limit: int = 100) -> list[TaskRecord]:
        """Take over tasks that are pending or were left running by an owner that went silent.

        A task is claimable when its status is pending or running and its
        `updated_at` is older than `stale_before`; claiming sets owner and
        `updated_at` atomically, so two processes never claim the same task.
        """

    async def touch_tasks(self, owner: str, task_ids: list[str]) -> None:
        """Refresh `updated_at` of running tasks this owner still works on (a heartbeat)."""

    async def claim_task(self, task_id: str, owner: str, *, stale_before: float) -> TaskRecord | None:
        """Mark one task running under `owner`, unless another owner holds it and heartbeated since `stale_before`.

        A pending task, one `owner` already holds, or one whose holder went silent is claimed (the record as
        now stored); a finished task, one held by a live owner, or no such task answers None.
        """

    async def task_statuses(self, task_ids: list[str]) -> dict[str, TaskStatus]:
        """The status of each task that still exists, by id."""

    async def save_task_result(self, task_id: str, index: int, result: Any) -> None:
        """Save the answer to prompt `index` of a task; the first answer saved for a prompt is kept."""

    async def task_results(self, task_id: str) -> dict[int, Any]:
        """Every saved answer of a task, by prompt index."""

    async def purge_expired(self, *, idempotency_before: float, tasks_before: float) -> PurgeCounts:
        """Delete idempotency answers created before, and finished tasks last updated before, the cutoffs.

        Idempotent and safe to run from several workers at once; the action log is never purged.
        """
