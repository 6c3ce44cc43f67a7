"""Benchmarks (`make bench`): ratios measured in one run, never timing asserts in the test suite."""
