"""The tables, written once for every backend; a dialect renders them as DDL."""

from __future__ import annotations

from dataclasses import dataclass

from xianxia.store.base import CALL_LATENCY_BOUNDS
from xianxia.store.dialect import ColumnType, Dialect


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    nullable: bool = False
    default: str | None = None
    references: str | None = None  # e.g. "players(id)": deleted with the row it points at
    check: str | None = None


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]

    def create(self, dialect: Dialect) -> str:
        """`CREATE TABLE IF NOT EXISTS` in `dialect`."""
        if len(self.primary_key) == 1:  # inline, as the first schema was written (SQLite: no implied NOT NULL)
            lines = [_column(column, dialect, primary=column.name in self.primary_key) for column in self.columns]
        else:
            lines = [_column(column, dialect) for column in self.columns]
            lines.append(f"PRIMARY KEY ({', '.join(self.primary_key)})")
        body = ",\n    ".join(lines)
        return f"CREATE TABLE IF NOT EXISTS {self.name} (\n    {body}\n)"


@dataclass(frozen=True)
class Index:
    name: str
    table: str
    columns: tuple[str, ...]

    def create(self, dialect: Dialect) -> str:
        return f"CREATE INDEX IF NOT EXISTS {self.name} ON {self.table} ({', '.join(self.columns)})"


def _column(column: Column, dialect: Dialect, *, primary: bool = False) -> str:
    parts = [column.name, dialect.type_of(column.type)]
    if primary:
        parts.append("PRIMARY KEY")
    elif not column.nullable:
        parts.append("NOT NULL")
    if column.default is not None:
        parts.append(f"DEFAULT {column.default}")
    if column.references is not None:
        parts.append(f"REFERENCES {column.references} ON DELETE CASCADE")
    if column.check is not None:
        parts.append(f"CHECK ({column.check})")
    return " ".join(parts)


TASK_STATUSES = "status IN ('pending', 'running', 'done', 'failed')"

PLAYERS = Table(
    "players",
    (
        Column("id", "text"),
        Column("name", "text"),
        Column("state", "text"),  # the PlayerState as JSON
        Column("version", "integer"),
        Column("actions", "integer", default="0"),
        Column("token_hash", "text"),
        Column("created_at", "real"),
        Column("updated_at", "real"),
    ),
    primary_key=("id",),
)

ACTION_LOG = Table(
    "action_log",
    (
        Column("player_id", "text", references="players(id)"),
        Column("seq", "integer"),
        Column("version", "integer"),
        Column("text", "text", nullable=True),
        Column("intent", "text"),
        Column("parser", "text"),
        Column("outcome", "text"),
        Column("created_at", "real"),
    ),
    primary_key=("player_id", "seq"),
)

IDEMPOTENCY = Table(
    "idempotency",
    (
        Column("player_id", "text", references="players(id)"),
        Column("key", "text"),
        Column("response", "text"),
        Column("created_at", "real"),
    ),
    primary_key=("player_id", "key"),
)

SETTINGS = Table(
    "settings",
    (Column("key", "text"), Column("value", "text"), Column("updated_at", "real")),
    primary_key=("key",),
)

TASKS = Table(
    "tasks",
    (
        Column("id", "text"),
        Column("kind", "text"),
        Column("status", "text", check=TASK_STATUSES),
        Column("payload", "text"),
        Column("result", "text", nullable=True),
        Column("error", "text", nullable=True),
        Column("owner", "text", nullable=True),
        Column("created_at", "real"),
        Column("updated_at", "real"),
    ),
    primary_key=("id",),
)

#: One saved answer per prompt of a batch task, so a redelivered task only calls the upstream for the rest.
TASK_RESULTS = Table(
    "task_results",
    (
        Column("task_id", "text", references="tasks(id)"),
        Column("idx", "integer"),
        Column("result", "text"),  # the prompt's answer as JSON ({"text"} or {"error"})
        Column("created_at", "real"),
    ),
    primary_key=("task_id", "idx"),
)

#: Which migrations ran, and when; the same table on every backend.
SCHEMA_MIGRATIONS = Table(
    "schema_migrations",
    (Column("version", "integer"), Column("applied_at", "real")),
    primary_key=("version",),
)

TASKS_CLAIMABLE = Index("tasks_claimable", "tasks", ("status", "updated_at"))
IDEMPOTENCY_EXPIRY = Index("idempotency_expiry", "idempotency", ("created_at",))

#: Every change of a setting (the LLM mode: by hand, rollback, kill switch), never purged.
AUDIT_LOG = Table(
    "audit_log",
    (
        Column("id", "text"),
        Column("at", "real"),
        Column("key", "text"),
        Column("old_value", "text", nullable=True),  # None: the setting had no stored value before
        Column("new_value", "text"),
        Column("changed_by", "text"),
        Column("cause", "text"),
        Column("reason", "text"),
        Column("figures", "text", nullable=True),  # JSON: what the change was decided on
        Column("origin", "text"),
    ),
    primary_key=("id",),
)
AUDIT_LOG_NEWEST = Index("audit_log_newest", "audit_log", ("at",))


#: One column per latency bucket of `CALL_LATENCY_BOUNDS`, +Inf last: le_0_005 … le_60_0, le_inf.
LATENCY_COLUMNS: tuple[str, ...] = (
    *(f"le_{str(bound).replace('.', '_')}" for bound in CALL_LATENCY_BOUNDS),
    "le_inf",
)

#: Each worker's LLM calls per flush (about a second), summed by every worker's rollback watch; kept a few windows.
LLM_CALLS = Table(
    "llm_calls",
    (
        Column("worker", "text"),  # host:pid:random, unique per process start
        Column("seq", "integer"),
        Column("at", "real"),
        Column("calls", "integer"),
        Column("errors", "integer"),
        *(Column(name, "integer", default="0") for name in LATENCY_COLUMNS),
    ),
    primary_key=("worker", "seq"),
)
LLM_CALLS_AT = Index("llm_calls_at", "llm_calls", ("at",))
