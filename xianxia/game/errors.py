"""Errors of the game service, mapped to HTTP in xianxia.web.errors."""

from __future__ import annotations


class GameError(Exception):
    """Base class of game service errors."""


class PlayerNotFound(GameError):
    """No player with this id."""


class InvalidRequest(GameError):
    """The request is well-formed JSON but makes no sense for the game (names the field)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ActionContention(GameError):
    """The player's state kept changing under us; the action was not applied."""


class IdempotencyKeyReused(GameError):
    """An Idempotency-Key already answered a different request for this player."""
