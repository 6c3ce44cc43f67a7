"""A fake DeepSeek upstream for local play, integration tests and benchmarks: `python -m xianxia.fakellm`."""

from xianxia.fakellm.answers import Interpreter
from xianxia.fakellm.faults import FAULTS, FaultName, FaultPlan
from xianxia.fakellm.server import FAULT_HEADER, FakeConfig, RunningFake, create_fake_app, running_fake

__all__ = [
    "FAULTS",
    "FAULT_HEADER",
    "FakeConfig",
    "FaultName",
    "FaultPlan",
    "Interpreter",
    "RunningFake",
    "create_fake_app",
    "running_fake",
]
