"""`create_store(url)`: the backend is chosen by the database URL's scheme."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from xianxia.store.base import Store
from xianxia.store.postgres import PostgresStore
from xianxia.store.sqlite import SQLiteStore

SQLITE_OPTIONS: dict[str, Callable[[Any], Any]] = {
    "synchronous": str,
    "busy_timeout": int,
    "batch_size": int,
    "readers": int,
}
POSTGRES_OPTIONS: dict[str, Callable[[Any], Any]] = {
    "schema": str,
    "min_size": int,
    "max_size": int,
    "batch_size": int,
    "timeout": float,
}


def create_store(url: str, **options: Any) -> Store:
    """A store for `sqlite:///relative.db`, `sqlite:////absolute.db` or `postgresql://…`.

    Store options come from the URL query (`?synchronous=normal`, `?schema=test_1`)
    or from keyword arguments, which win.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "sqlite":
        if parts.netloc:
            raise ValueError("a sqlite URL has no host: use sqlite:///relative.db or sqlite:////absolute.db")
        path = parts.path[1:]  # sqlite:///a.db -> "a.db"; sqlite:////tmp/a.db -> "/tmp/a.db"
        if not path or path == ":memory:":
            raise ValueError("a sqlite URL needs a file path (several connections must share the database)")
        query = dict(parse_qsl(parts.query))
        return SQLiteStore(Path(path), **_typed(scheme, SQLITE_OPTIONS, query | options))
    if scheme in ("postgresql", "postgres"):
        ours = {key: value for key, value in parse_qsl(parts.query) if key in POSTGRES_OPTIONS}
        # Other query parameters (sslmode, …) are asyncpg's.
        theirs = [(key, value) for key, value in parse_qsl(parts.query) if key not in POSTGRES_OPTIONS]
        dsn = urlunsplit((scheme, parts.netloc, parts.path, urlencode(theirs), ""))
        return PostgresStore(dsn, **_typed(scheme, POSTGRES_OPTIONS, ours | options))
    raise ValueError(f"unsupported database URL scheme {scheme!r}: use sqlite:///path.db or postgresql://user@host/db")


def _typed(scheme: str, known: dict[str, Callable[[Any], Any]], options: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ValueError(f"unknown {scheme} store option(s) {', '.join(unknown)}; known: {', '.join(known)}")
    try:
        return {key: known[key](value) for key, value in options.items()}
    except ValueError as exc:
        raise ValueError(f"bad {scheme} store option: {exc}") from exc
