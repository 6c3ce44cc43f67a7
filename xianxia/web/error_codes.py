"""Every error code the API (and the nginx in front of it) answers: status, cause and what the caller should do.

The table is data for people: docs/API.md is generated from it (tests/support/api_reference.py), and
tests/web/test_error_codes.py fails when the code base can answer a code that is not listed here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ErrorCode:
    status: int
    code: str
    cause: str
    remedy: str


ERROR_CODES: tuple[ErrorCode, ...] = (
    ErrorCode(
        400, "bad_request", "The body is not valid JSON, not UTF-8, or nested too deeply.", "Send one JSON object."
    ),
    ErrorCode(
        401,
        "unauthorized",
        "No `Authorization: Bearer` header, or a malformed one.",
        "Send the player's token (from `POST /api/players`), or the admin / LLM service token.",
    ),
    ErrorCode(
        403,
        "forbidden",
        "A valid token of somebody else: another player's, a wrong admin or LLM service token.",
        "Use the token that belongs to this player or route.",
    ),
    ErrorCode(
        404,
        "not_found",
        "No such route, scene or task; the admin routes when `XIANXIA_ADMIN_TOKEN` is unset; `/metrics` through nginx.",
        "Check the path; set `XIANXIA_ADMIN_TOKEN` to turn the admin routes on; scrape instances directly.",
    ),
    ErrorCode(404, "player_not_found", "No player with this id.", "Create the player first; check the id."),
    ErrorCode(405, "method_not_allowed", "The route exists but not with this method.", "Use a method in `Allow`."),
    ErrorCode(
        409,
        "conflict",
        "The player changed too often while this action was being applied.",
        "Retry after `Retry-After` (with the same `Idempotency-Key`).",
    ),
    ErrorCode(
        413,
        "payload_too_large",
        "The body is over `XIANXIA_MAX_BODY_BYTES` (64 KiB), or over nginx's `client_max_body_size`.",
        "Send less.",
    ),
    ErrorCode(415, "unsupported_media_type", "A body that is not `application/json`.", "Send JSON."),
    ErrorCode(
        422,
        "invalid_request",
        "Valid JSON whose fields are wrong (missing, wrong type, too long); `fields` lists each problem.",
        "Fix the fields named.",
    ),
    ErrorCode(
        422,
        "idempotency_key_reused",
        "An `Idempotency-Key` already used for a different action of this player.",
        "Use a new key for a new action.",
    ),
    ErrorCode(
        429, "too_many_tasks", "This worker already runs as many batch tasks as it may.", "Retry after `Retry-After`."
    ),
    ErrorCode(
        429,
        "too_many_connections",
        "nginx: more open connections from one address than its cap (100).",
        "Reuse connections; retry after `Retry-After`.",
    ),
    ErrorCode(
        429, "llm_busy", "This player already has LLM calls in flight, or no LLM worker thread is free.", "Retry."
    ),
    ErrorCode(
        429,
        "rate_limited",
        "Over one of the edge's limits: actions per player, players created or failed authentications per address,"
        " LLM requests per address (`XIANXIA_RATE_LIMIT_*`).",
        "Retry after `Retry-After` seconds.",
    ),
    ErrorCode(
        429,
        "llm_budget_exhausted",
        "The player's or the service's LLM budget (calls per minute or per day) is spent.",
        "Retry after `Retry-After` seconds; the game itself goes on with the rules parser.",
    ),
    ErrorCode(500, "internal", "A bug; it was logged with the request id.", "Report the `X-Request-ID`."),
    ErrorCode(502, "llm_error", "The LLM path failed in an unforeseen way.", "Retry; the game itself goes on."),
    ErrorCode(502, "llm_connection_error", "DeepSeek could not be reached.", "Retry later; see TROUBLESHOOTING.md."),
    ErrorCode(502, "llm_upstream_error", "DeepSeek answered with an unexpected status.", "Retry later."),
    ErrorCode(502, "llm_server_error", "DeepSeek answered 5xx after every retry.", "Retry later."),
    ErrorCode(
        502,
        "llm_auth",
        "DeepSeek refused the key (401) or the account has no balance (402): the LLM switches itself off.",
        "Operators: fix the key or the balance, then raise the mode again (`PUT /api/admin/mode`).",
    ),
    ErrorCode(502, "llm_request_rejected", "DeepSeek refused this request (4xx).", "Change the prompt."),
    ErrorCode(502, "llm_bad_answer", "DeepSeek's answer could not be used.", "Retry."),
    ErrorCode(502, "llm_blank_answer", "DeepSeek answered with no text.", "Retry."),
    ErrorCode(502, "llm_invalid_output", "DeepSeek's answer is not a valid intent for this world.", "Retry."),
    ErrorCode(
        503,
        "llm_unavailable",
        "The LLM mode is `off` (by an operator or an automatic rollback), or no API key is set.",
        "Play on: actions use the rules parser. Operators: see `GET /api/admin/mode`.",
    ),
    ErrorCode(503, "llm_rate_limited", "DeepSeek rate-limited us (429) after every retry.", "Retry after a while."),
    ErrorCode(
        503,
        "llm_circuit_open",
        "Too many LLM calls failed in a row; this worker rests the upstream for `LLM_BREAKER_COOLDOWN` s.",
        "Retry after the cooldown.",
    ),
    ErrorCode(
        503,
        "store_unavailable",
        "The store (SQLite / PostgreSQL) did not answer; nothing was changed.",
        "Retry after `Retry-After`; operators: see the XianxiaStoreErrors runbook.",
    ),
    ErrorCode(
        503,
        "task_queue_unavailable",
        "`mode: task` with `XIANXIA_TASK_BROKER` set: the broker (Redis) did not take the task; stored as failed.",
        "Retry after `Retry-After`; operators: check Redis and the Celery workers (docs/OPERATIONS.md).",
    ),
    ErrorCode(
        503,
        "unavailable",
        "A dependency is off; through nginx: no instance answered.",
        "Retry after `Retry-After`.",
    ),
    ErrorCode(504, "llm_timeout", "The LLM call used its whole budget (`LLM_TIMEOUT`).", "Retry."),
)
