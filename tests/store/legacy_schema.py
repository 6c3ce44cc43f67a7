"""The schema exactly as main created it before the shared schema spec (commit 582e6a1): a fixture, never edited.

Copied verbatim from that commit's `xianxia/store/migrations.py`, with how it recorded its version.
"""

from __future__ import annotations

SQLITE_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE IF NOT EXISTS players (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            state TEXT NOT NULL,
            version INTEGER NOT NULL,
            actions INTEGER NOT NULL DEFAULT 0,
            token_hash TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS action_log (
            player_id TEXT NOT NULL REFERENCES players(id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            version INTEGER NOT NULL,
            text TEXT,
            intent TEXT NOT NULL,
            parser TEXT NOT NULL,
            outcome TEXT NOT NULL,
            created_at REAL NOT NULL,
            PRIMARY KEY (player_id, seq)
        )""",
        """CREATE TABLE IF NOT EXISTS idempotency (
            player_id TEXT NOT NULL REFERENCES players(id) ON DELETE CASCADE,
            key TEXT NOT NULL,
            response TEXT NOT NULL,
            created_at REAL NOT NULL,
            PRIMARY KEY (player_id, key)
        )""",
        """CREATE TABLE IF NOT EXISTS settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at REAL NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS tasks (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
            payload TEXT NOT NULL,
            result TEXT,
            error TEXT,
            owner TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS tasks_claimable ON tasks (status, updated_at)",
    ),
)

POSTGRES_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE IF NOT EXISTS players (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            state TEXT NOT NULL,
            version BIGINT NOT NULL,
            actions BIGINT NOT NULL DEFAULT 0,
            token_hash TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS action_log (
            player_id TEXT NOT NULL REFERENCES players(id) ON DELETE CASCADE,
            seq BIGINT NOT NULL,
            version BIGINT NOT NULL,
            text TEXT,
            intent TEXT NOT NULL,
            parser TEXT NOT NULL,
            outcome TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (player_id, seq)
        )""",
        """CREATE TABLE IF NOT EXISTS idempotency (
            player_id TEXT NOT NULL REFERENCES players(id) ON DELETE CASCADE,
            key TEXT NOT NULL,
            response TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (player_id, key)
        )""",
        """CREATE TABLE IF NOT EXISTS settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS tasks (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed')),
            payload TEXT NOT NULL,
            result TEXT,
            error TEXT,
            owner TEXT,
            created_at DOUBLE PRECISION NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS tasks_claimable ON tasks (status, updated_at)",
    ),
)

#: How that code recorded that migration 1 ran.
SQLITE_RECORD = "PRAGMA user_version = 1"
POSTGRES_BOOKKEEPING = (
    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)",
    "INSERT INTO schema_migrations (version, applied_at) VALUES (1, 1000.0)",
)
