"""Debian's chromium for the browser tests: apt-installed when missing, launched by path with a fresh profile."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

CHROMIUM = Path("/usr/bin/chromium")
#: What Debian's chromium needs to run headless in a container, and nothing that phones home.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
#: The packages the browser test needs: the browser, and CJK fonts so the page's Chinese renders in screenshots.
PACKAGES = ("chromium", "fonts-noto-cjk")
APT_LOCK_WAIT = "DPkg::Lock::Timeout=600"


def _apt_install(packages: tuple[str, ...]) -> bool:
    command = ["apt-get", "-o", APT_LOCK_WAIT, "install", "-y", "--no-install-recommends", *packages]
    if subprocess.run(command, capture_output=True, check=False).returncode == 0:
        return True
    subprocess.run(["apt-get", "-o", APT_LOCK_WAIT, "update"], capture_output=True, check=False)
    return subprocess.run(command, capture_output=True, check=False).returncode == 0


def _has_cjk_font() -> bool:
    if shutil.which("fc-list") is None:
        return False
    found = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True, check=False)
    return bool(found.stdout.strip())


def ensure_chromium() -> Path:
    """/usr/bin/chromium, apt-installing it (and CJK fonts) when missing; fails the test with how to fix it."""
    missing = tuple(
        package
        for package, present in (("chromium", CHROMIUM.exists()), ("fonts-noto-cjk", _has_cjk_font()))
        if not present
    )
    if missing and shutil.which("apt-get") is not None:
        _apt_install(missing)
    if not CHROMIUM.exists():
        pytest.fail(
            "the browser test needs Debian's chromium at /usr/bin/chromium and could not install it: "
            "run `apt-get update && apt-get install -y chromium fonts-noto-cjk` (as root)"
        )
    return CHROMIUM


@contextmanager
def chromium_context(profile: Path, **options: object) -> Iterator[BrowserContext]:
    """A Playwright browser context of Debian's chromium with a fresh user-data-dir at `profile`."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the browser test needs Playwright for Python: `make install` (it is in the dev extra)")
    executable = ensure_chromium()
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(executable),
            headless=True,
            args=list(CHROMIUM_ARGS),
            **options,  # type: ignore[arg-type]
        )
        try:
            yield context
        finally:
            context.close()
