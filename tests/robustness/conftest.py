"""Fixtures for the robustness tests: tiny real filesystems (tmpfs) that fill up or turn read-only."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, check=False)


class Mount:
    """A tmpfs mounted for one test: fill it, free it, or make it read-only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.ballast = path / "ballast.bin"

    def fill(self) -> None:
        """Write a ballast file until the filesystem is full (ENOSPC), to the last byte.

        Unbuffered: a buffered file would retry its unwritten tail when closed and raise there.
        """
        with open(self.ballast, "ab", buffering=0) as out:
            for chunk in (b"\0" * 65536, b"\0"):
                try:
                    while out.write(chunk):
                        pass
                except OSError:
                    pass

    def free(self) -> None:
        self.ballast.unlink(missing_ok=True)

    def read_only(self) -> None:
        done = _run("mount", "-o", "remount,ro", str(self.path))
        if done.returncode != 0 and "busy" in done.stderr:  # a file is still open for writing there
            open_files = [os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
                          if os.path.exists(f"/proc/self/fd/{fd}")]
            pytest.fail(f"cannot remount {self.path} read-only, it is busy: this process still has open "
                        f"{[f for f in open_files if f.startswith(str(self.path))]} (a closed store must let go)")
        if done.returncode != 0:
            pytest.skip(f"cannot remount {self.path} read-only: {done.stderr.strip()}")

    def writable(self) -> None:
        _run("mount", "-o", "remount,rw", str(self.path))


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[..., Mount]]:
    """Mount small tmpfs filesystems under tmp_path (needs root); skips where impossible."""
    mounted: list[Path] = []

    def mount(size: str = "4m") -> Mount:
        if os.geteuid() != 0 or not shutil.which("mount"):
            pytest.skip("mounting a tmpfs needs root and the mount command")
        mnt = tmp_path / f"tmpfs{len(mounted)}"
        mnt.mkdir()
        done = _run("mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(mnt))
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(mnt)
        return Mount(mnt)

    yield mount
    for mnt in reversed(mounted):
        _run("umount", "-l", str(mnt))
