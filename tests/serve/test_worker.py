"""The worker process's own set-up."""

from __future__ import annotations

import subprocess
import sys

from xianxia.serve.worker import GC_THRESHOLDS


def test_a_serving_worker_freezes_its_start_up_and_collects_less_often() -> None:
    # In a process of its own: freezing pytest's heap would change every test after this one.
    probe = (
        "import gc; from xianxia.serve.worker import tune_collector; tune_collector(); "
        "print(gc.get_freeze_count(), *gc.get_threshold())"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    frozen, *thresholds = map(int, out)
    assert frozen > 1000  # the imported modules, at least
    assert tuple(thresholds) == GC_THRESHOLDS
    assert GC_THRESHOLDS[0] > 700  # less often than Python's default
