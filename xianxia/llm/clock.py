"""The clock every LLM deadline is computed with: `time.monotonic` in production, a hand-moved one in tests."""

from __future__ import annotations

import time
from collections.abc import Callable

#: Seconds on a monotonic scale; only differences between two readings mean anything.
Clock = Callable[[], float]

monotonic: Clock = time.monotonic
