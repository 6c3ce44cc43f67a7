"""structlog set up once: JSON off a terminal, console on one; stdlib logging through the same processors.

Our own events skip the stdlib: structlog renders the line and `LineLogger` writes it to the one handler's
stream under that handler's lock, so a line is the same bytes as through `logging` (same processors, same
renderer) without a LogRecord, a frame walk and a getpid per line (a sixth of `/act`'s after-request work).
Foreign stdlib records (hypercorn, libraries) still go through `ProcessorFormatter` to that handler.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

_SHARED: list[structlog.types.Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.processors.StackInfoRenderer(),
]


class LineLogger:
    """structlog's logger for our events: writes each rendered line to the current handler's stream."""

    def __init__(self, name: str) -> None:
        self.name = name  # for `add_logger_name`

    def msg(self, line: str) -> None:
        handler = _handler
        if handler is None or handler.lock is None:  # pragma: no cover - configure_logging installs one first
            return
        with handler.lock:
            try:
                handler.stream.write(line + "\n")
                handler.stream.flush()
            except (OSError, ValueError):  # the stream is gone (a closed pipe): as logging does, serve on
                pass

    debug = info = warning = warn = error = critical = exception = fatal = log = msg


SCALARS = (str, int, float, bool, type(None))


def _never_raising(renderer: Any) -> Any:
    """`renderer`, which in structlog's chain runs in the caller (a request, the SQLite writer): a value it
    cannot take (a circular structure, a key that is not a string) gives a line with its repr, never an error."""

    def render(logger: Any, method: str, event_dict: Any) -> Any:
        try:
            return renderer(logger, method, event_dict)
        except (TypeError, ValueError) as exc:
            safe = {str(key): value if isinstance(value, SCALARS) else repr(value) for key, value in event_dict.items()}
            return renderer(logger, method, {**safe, "log_error": repr(exc)})

    return render


def _line_logger(*args: Any) -> LineLogger:
    return LineLogger(args[0] if args and isinstance(args[0], str) else "")


_handler: logging.StreamHandler[Any] | None = None


def configure_logging(level: str = "INFO", json: bool | None = None) -> None:
    """Route structlog and stdlib logging through one pipeline to stderr."""
    global _handler
    as_json = (not sys.stderr.isatty()) if json is None else json
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False) if as_json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[*_SHARED, *([structlog.processors.format_exc_info] if as_json else []), _never_raising(renderer)],
        logger_factory=_line_logger,
        # Drops events below the level before any processor runs (a debug line costs nothing in production).
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_xianxia", False):
            root.removeHandler(existing)
    handler._xianxia = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    _handler = handler
    root.setLevel(level.upper())
    # hypercorn's loggers carry their own handlers; let them flow through ours instead.
    for name in ("hypercorn.error", "hypercorn.access", "quart.app"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
