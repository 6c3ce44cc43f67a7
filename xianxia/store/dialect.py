"""What differs between SQLite and PostgreSQL, in one place: types, placeholders, list parameters, locking.

Statements are written once, in the common subset both databases speak (`INSERT … ON CONFLICT … DO
UPDATE`, `RETURNING`, savepoints), with `?` placeholders; `Dialect.sql` renders them for a backend.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

#: The column types the schema uses, by meaning: 64-bit integers, seconds since the epoch, text.
ColumnType = Literal["integer", "real", "text"]

_PLACEHOLDER = re.compile(r"\?")


@dataclass(frozen=True)
class Dialect:
    """How one backend spells the few things the two databases spell differently."""

    name: str
    types: tuple[tuple[ColumnType, str], ...]
    numbered_placeholders: bool  # PostgreSQL: $1, $2 …; SQLite: ?
    skip_locked: str  # appended to a claiming sub-select: skip rows another transaction holds
    for_update: str  # appended to a read inside a write: hold the rows until the transaction ends

    def type_of(self, column_type: ColumnType) -> str:
        return dict(self.types)[column_type]

    @functools.lru_cache(maxsize=256)  # noqa: B019 - dialects are two module constants, never collected
    def sql(self, statement: str) -> str:
        """`statement` (written with `?` placeholders) in this dialect."""
        if not self.numbered_placeholders:
            return statement
        numbers = iter(range(1, statement.count("?") + 1))
        return _PLACEHOLDER.sub(lambda _: f"${next(numbers)}", statement)

    def in_list(self, column: str, values: Sequence[str]) -> tuple[str, tuple[Any, ...]]:
        """A `column IN (values)` condition and its parameters: one array on PostgreSQL, one `?` each on SQLite."""
        if self.numbered_placeholders:
            return f"{column} = ANY(?::text[])", (list(values),)
        return f"{column} IN ({', '.join('?' * len(values))})", tuple(values)


SQLITE = Dialect(
    name="sqlite",
    types=(("integer", "INTEGER"), ("real", "REAL"), ("text", "TEXT")),
    numbered_placeholders=False,
    skip_locked="",  # one writer at a time: BEGIN IMMEDIATE already holds the whole database
    for_update="",
)

POSTGRES = Dialect(
    name="postgres",
    types=(("integer", "BIGINT"), ("real", "DOUBLE PRECISION"), ("text", "TEXT")),
    numbered_placeholders=True,
    skip_locked=" FOR UPDATE SKIP LOCKED",
    for_update=" FOR UPDATE",
)
