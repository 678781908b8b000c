"""A server the tests need but cannot find: skip and say why, or fail where EDGE_ALL_REQUIRE_SERVERS=1
(.ci/run sets it, so CI cannot pass by skipping the hub's real-server tests)."""

from __future__ import annotations

import os
import socket

import pytest

REQUIRE = "EDGE_ALL_REQUIRE_SERVERS"


def missing(problem: str) -> None:
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"{REQUIRE}=1 but {problem}")
    pytest.skip(problem)


def free_port(below: int = 55535) -> int:
    """A free loopback port below `below` (SeaweedFS adds 10000 for its gRPC ports)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port < below:
            return port


def wait_port(port: int, timeout: float, alive=lambda: True) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False
