"""Xianxia World Engine: a JSON-data-driven xianxia text game over HTTP/JSON."""

from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "xianxia-world-engine"

try:
    __version__ = version(DISTRIBUTION)  # one source: pyproject.toml, through the installed metadata
except PackageNotFoundError:  # run from a checkout that was never installed
    __version__ = "0+unknown"
