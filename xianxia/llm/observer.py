"""What the LLM client reports as it works: the metrics layer implements it."""

from __future__ import annotations

from typing import Protocol


class LLMObserver(Protocol):
    """Receives the client's measurements; `kind` is "chat" or "parse", `path` "async" or "sync" (the client used)."""

    def request(self, kind: str, outcome: str, seconds: float, path: str = "async") -> None: ...

    def retry(self, kind: str, reason: str) -> None: ...

    def error(self, kind: str, error_type: str) -> None: ...

    def circuit(self, state: str) -> None: ...

    def inflight(self, delta: int) -> None: ...

    def decision(self, decision: str) -> None: ...


class NullObserver:
    """Observes nothing."""

    def request(self, kind: str, outcome: str, seconds: float, path: str = "async") -> None:
        pass

    def retry(self, kind: str, reason: str) -> None:
        pass

    def error(self, kind: str, error_type: str) -> None:
        pass

    def circuit(self, state: str) -> None:
        pass

    def inflight(self, delta: int) -> None:
        pass

    def decision(self, decision: str) -> None:
        pass


class Observers:
    """Tells every observer given what the client reports (the metrics, and the rollback watch's tally)."""

    def __init__(self, *observers: LLMObserver) -> None:
        self._observers = observers

    def request(self, kind: str, outcome: str, seconds: float, path: str = "async") -> None:
        for observer in self._observers:
            observer.request(kind, outcome, seconds, path)

    def retry(self, kind: str, reason: str) -> None:
        for observer in self._observers:
            observer.retry(kind, reason)

    def error(self, kind: str, error_type: str) -> None:
        for observer in self._observers:
            observer.error(kind, error_type)

    def circuit(self, state: str) -> None:
        for observer in self._observers:
            observer.circuit(state)

    def inflight(self, delta: int) -> None:
        for observer in self._observers:
            observer.inflight(delta)

    def decision(self, decision: str) -> None:
        for observer in self._observers:
            observer.decision(decision)
