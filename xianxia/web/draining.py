"""Whether this worker is draining: set by the serving layer on SIGTERM, read by `/readyz`."""

from __future__ import annotations

from quart import Quart

EXTENSION_KEY = "xianxia.draining"


class Draining:
    """A one-way switch: once draining starts, the worker takes no new connections and reports unready."""

    def __init__(self) -> None:
        self._active = False

    @property
    def active(self) -> bool:
        return self._active

    def begin(self) -> None:
        self._active = True


def draining_of(app: Quart) -> Draining:
    """The app's draining switch (created on first use, so a test app has one too)."""
    found = app.extensions.get(EXTENSION_KEY)
    if not isinstance(found, Draining):
        found = app.extensions[EXTENSION_KEY] = Draining()
    return found
