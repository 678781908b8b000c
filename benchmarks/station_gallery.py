"""How long the station's cell gallery takes: the page, and its crops cut from the stored fields.

Records one cell model's slide through ResultsStore.add: --fields fields, each a 1920x1080 JPEG of its
own with --cells white cells, their labels spread over four classes. Starts the real `edge-all serve`,
then requests the gallery page --rounds times after a warm-up (server-side time from Server-Timing,
and the round trip), and every crop that page shows, one after another as a browser without parallel
requests would: first cold (each cut from its field's JPEG on request), then again from the cache.
A benchmark, never a timed test.

    python benchmarks/station_gallery.py               # 100 fields of 3 cells
"""

from __future__ import annotations

import argparse
import http.client
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.station_pages import timed_get
from edge_all.results.judged import JudgedCell
from edge_all.results.store import CaptureRecord, ResultsStore, SessionInfo
from edge_all.runtime.benchmark import machine_facts

SLIDE = "GALLERY-1"
ROLES = {"blast": "all_like", "neutrophil": "not_all_like", "lymphocyte": "not_all_like", "smudge": "refer"}
STATUS = {"all_like": "all-like", "not_all_like": "cleared", "refer": "referred"}


def fill(db: Path, frames: Path, fields: int, cells: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    frames.mkdir(parents=True, exist_ok=True)
    labels = list(ROLES)
    with ResultsStore.open(db) as store:
        session = store.start_session(
            SessionInfo(
                started_at="2026-01-01T00:00:00+00:00", source="picamera2", sample_id=SLIDE, model="cells",
                bundle_sha256="ce" * 32, labels=labels, threshold=0.6, quality_thresholds=None,
                edge_all_version="bench", label_roles=ROLES,
            )
        )  # fmt: skip
        for index in range(fields):
            picture = frames / f"field-{index:05d}.jpg"
            Image.fromarray(rng.integers(0, 255, (1080, 1920, 3), np.uint8)).save(picture, quality=90)
            found = []
            for k in range(cells):
                label = labels[(index * cells + k) % len(labels)]
                x, y = int(rng.integers(0, 1800)), int(rng.integers(0, 960))
                found.append(JudgedCell((x, y, x + 110, y + 110), label, 0.9, STATUS[ROLES[label]]))
            store.add(
                CaptureRecord(
                    session_id=session, captured_at=f"2026-01-01T{index // 3600:02d}:{index // 60 % 60:02d}:{index % 60:02d}+00:00",  # noqa: E501
                    sample_id=SLIDE, source="picamera2", frame_index=index, origin=f"picamera2#{index}",
                    status="classified", bundle_sha256="ce" * 32, image_path=str(picture), label="blast",
                    confidence=0.9, cells=tuple(found),
                )
            )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fields", type=int, default=100)
    parser.add_argument("--cells", type=int, default=3, help="white cells per field")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        fill(tmp / "results.db", tmp / "frames", args.fields, args.cells, args.seed)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        command = [
            sys.executable, "-m", "edge_all", "serve", "--model", str(tmp / "no-model"), "--camera",
            "picamera2", "--db", str(tmp / "results.db"), "--save-frames", str(tmp / "frames"),
            "--port", str(port), "--threads", "1",
        ]  # fmt: skip
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    timed_get(port, "/capture/state")
                    break
                except (OSError, AssertionError):
                    assert time.monotonic() < deadline and server.poll() is None, "the station did not start"
                    time.sleep(0.2)
            page = f"/cells?id={SLIDE}"
            for _ in range(3):
                timed_get(port, page)
            results = [timed_get(port, page) for _ in range(args.rounds)]
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            connection.request("GET", page)
            html = connection.getresponse().read().decode()
            connection.close()
            crops = re.findall(r'src="(/cell/\d+/crop)"', html)

            def fetch_all() -> list[float]:
                times = []
                for path in crops:
                    started = time.perf_counter()
                    timed_get_plain(port, path)
                    times.append((time.perf_counter() - started) * 1000)
                return times

            cold, warm = fetch_all(), fetch_all()
        finally:
            server.terminate()
            server.wait(30)
    print(f"machine: {machine_facts()}")
    cells = args.fields * args.cells
    print(f"{args.fields} fields of 1920x1080 JPEG, {cells} white cells; the page shows {len(crops)}")
    print("| what | median (ms) | max (ms) | total (s) |")
    print("| --- | ---: | ---: | ---: |")
    server_ms = [r[0] for r in results]
    wall_ms = [r[1] for r in results]
    print(f"| gallery page, server-side | {statistics.median(server_ms):.1f} | {max(server_ms):.1f} | |")
    size = results[0][2] // 1024
    print(
        f"| gallery page, round trip ({size} KB) | {statistics.median(wall_ms):.1f} | {max(wall_ms):.1f} | |"
    )
    for name, times in (("a crop, cold (cut from its field)", cold), ("a crop, cached", warm)):
        print(f"| {name} | {statistics.median(times):.1f} | {max(times):.1f} | {sum(times) / 1000:.2f} |")


def timed_get_plain(port: int, path: str) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", path)
    response = connection.getresponse()
    response.read()
    connection.close()
    assert response.status == 200, (path, response.status)


if __name__ == "__main__":
    main()
