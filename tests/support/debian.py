"""Debian tools the ops tests run for real (promtool, nginx, ...): apt-get installs them when missing, never a skip."""

from __future__ import annotations

import shutil
import subprocess

import pytest

#: apt-get waits this long for another installer's lock instead of failing at once.
LOCK_WAIT = ["-o", "DPkg::Lock::Timeout=300"]


def _apt(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["apt-get", *LOCK_WAIT, *args],
        capture_output=True,
        text=True,
        env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        check=False,
    )


def require(tool: str, package: str) -> str:
    """The path of `tool`; installs Debian's `package` first when it is missing, or fails saying how to."""
    found = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if found:
        return found
    install_package(package, tool)
    found = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if not found:
        pytest.fail(f"{tool} is still missing after `apt-get install -y {package}`")
    return found


def install_package(package: str, tool: str) -> None:
    """`apt-get install` Debian's `package` (refreshing the lists once if needed), or fail saying how to."""
    if shutil.which("apt-get") is None:
        pytest.fail(f"{tool} is missing and there is no apt-get here: install the Debian package {package!r}")
    installed = _apt("install", "-y", "--no-install-recommends", package)
    if installed.returncode != 0:
        _apt("update")
        installed = _apt("install", "-y", "--no-install-recommends", package)
    if installed.returncode != 0:
        pytest.fail(
            f"{tool} is missing and `apt-get install -y {package}` failed (run it as root):\n"
            f"{installed.stdout[-2000:]}\n{installed.stderr[-2000:]}"
        )
