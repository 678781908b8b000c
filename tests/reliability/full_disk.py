"""A real filesystem filled to 100%: a 1 MiB tmpfs mounted for the test, then a file written until the
kernel says ENOSPC. Mounting needs root (as the CI container has); elsewhere the test is skipped, and
says why. Used by the full-disk tests of every file edge-all writes (tests/reliability/test_full_disk.py)
and by the rooms to come (site profile, outbox), which follow the same pattern.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

SIZE = "1m"
FILLER = "filler"


def fill(mount: Path) -> None:
    """Write one file until the filesystem has no byte left (ENOSPC); an empty new file still fits."""
    with open(mount / FILLER, "wb", buffering=0) as handle:
        block = bytes(64 << 10)
        while True:
            try:
                handle.write(block)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                if len(block) == 1:
                    return
                block = block[: len(block) // 2]


@contextlib.contextmanager
def full_filesystem(where: Path, before: Mapping[str, bytes] | None = None) -> Iterator[Path]:
    """A tmpfs mounted at WHERE (created), filled to 100%; unmounted afterwards.

    `before`: files (name: content) written while there is still room, e.g. an older copy that a
    failed write must leave as it was.
    """
    if os.geteuid() != 0:
        pytest.skip("mounting a real full filesystem (tmpfs) needs root; CI runs as root")
    where.mkdir(parents=True, exist_ok=True)
    mount = ["mount", "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs", str(where)]
    made = subprocess.run(mount, capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
    try:
        for name, content in (before or {}).items():
            (where / name).write_bytes(content)
        fill(where)
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def files_left(mount: Path) -> list[str]:
    """What is on the full filesystem besides the filler: a failed write must leave no temporary file."""
    return sorted(str(path.relative_to(mount)) for path in mount.rglob("*") if path.name != FILLER)
