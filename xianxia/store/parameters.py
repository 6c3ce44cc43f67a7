"""Values every backend can hold. Outside them the caller is wrong, not the database: `InvalidParameter`."""

from __future__ import annotations

from xianxia.store.base import ActionRecord, InvalidParameter

#: The largest integer a column holds on every backend (SQLite INTEGER, PostgreSQL BIGINT).
MAX_INTEGER = 2**63 - 1


def check_integer(name: str, value: int, *, minimum: int = 0) -> int:
    """`value` if it lies in [minimum, MAX_INTEGER]."""
    if not minimum <= value <= MAX_INTEGER:
        raise InvalidParameter(f"{name} must be between {minimum} and {MAX_INTEGER}, not {value}")
    return value


def check_text(name: str, value: str) -> str:
    """`value` if it holds no NUL character (PostgreSQL text cannot store one)."""
    if "\x00" in value:
        raise InvalidParameter(f"{name} must not contain a NUL character")
    return value


def check_action(action: ActionRecord) -> None:
    """Reject an action before it joins a batch, so one bad value cannot fail other players' actions."""
    check_text("player_id", action.player_id)
    if action.text is not None:
        check_text("text", action.text)
    if action.idempotency_key is not None:
        check_text("idempotency_key", action.idempotency_key)
    check_integer("expected_version", action.expected_version)
    check_integer("expected_actions", action.expected_actions, minimum=0)
    check_integer("version", action.state.version)
    check_integer("seq", action.seq, minimum=1)
