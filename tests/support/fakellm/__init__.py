"""A fake DeepSeek upstream for local play, integration tests and benchmarks: `python -m tests.support.fakellm`."""

from tests.support.fakellm.answers import Interpreter
from tests.support.fakellm.faults import FAULTS, FaultName, FaultPlan
from tests.support.fakellm.server import FAULT_HEADER, FakeConfig, RunningFake, create_fake_app, running_fake

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
