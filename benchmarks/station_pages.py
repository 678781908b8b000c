"""How fast the station's pages render with tens of thousands of fields, and the server's memory.

Fills a results database through ResultsStore.add (the capture loop's own path; synchronous=OFF
only to fill it faster): one big slide of --big-fields fields plus slides of --per-slide fields,
--fields in all, a realistic mix of statuses and a few reviews. Then starts the real
`edge-all serve` on a loopback port and requests each page --rounds times after a warm-up.
Prints, per page, the server-side time (the station's Server-Timing header: routing, SQLite and
the Jinja2 render) and the round trip over loopback, then the server's resident memory, as
markdown for docs/station.md. A benchmark, never a timed test.

    python benchmarks/station_pages.py                     # 20,000 fields
    python benchmarks/station_pages.py --fields 100000     # more
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import numpy as np
import psutil
from PIL import Image

from edge_all.results.store import CaptureRecord, ResultsStore, Review, SessionInfo
from edge_all.runtime.benchmark import machine_facts

LABELS = ["Benign", "Early", "Pre", "Pro"]
BIG = "BIG-SLIDE"
STATUS_MIX = ((0.80, "classified"), (0.88, "uncertain"), (0.93, "referred"), (1.01, "rejected"))


def fill(db: Path, frames: Path, fields: int, big_fields: int, per_slide: int, seed: int) -> list[str]:
    """Record `fields` fields; returns the sample ids, the big slide first."""
    rng = random.Random(seed)
    frames.mkdir(parents=True, exist_ok=True)
    picture = frames / "field.png"
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (224, 224, 3), np.uint8)).save(picture)
    plan = [(BIG, big_fields)]
    rest = fields - big_fields
    plan += [(f"S-{i:05d}", per_slide) for i in range(rest // per_slide)]
    start = time.time() - 86400 * 30
    with ResultsStore.open(db) as store:
        store.connection.execute("PRAGMA synchronous=OFF")
        for number, (sample_id, count) in enumerate(plan):
            session = store.start_session(
                SessionInfo(
                    started_at="2026-01-01T00:00:00+00:00",
                    source="picamera2",
                    sample_id=sample_id,
                    model="bundles/current",
                    bundle_sha256="ab" * 32,
                    labels=LABELS,
                    threshold=0.6,
                    quality_thresholds={"min_focus": 40.0},
                    edge_all_version="bench",
                )
            )
            for index in range(count):
                at = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(start + number * 3600 + index))
                roll = rng.random()
                status = (
                    "classified"
                    if roll < 0.8
                    else "uncertain"
                    if roll < 0.88
                    else "referred"
                    if roll < 0.93
                    else "rejected"
                )
                label = None if status == "rejected" else rng.choice(LABELS)
                store.add(
                    CaptureRecord(
                        session_id=session,
                        captured_at=at,
                        sample_id=sample_id,
                        source="picamera2",
                        frame_index=index,
                        origin=f"picamera2#{index}",
                        status=status,
                        bundle_sha256="ab" * 32,
                        image_path=str(picture),
                        label=label,
                        confidence=None if label is None else rng.uniform(0.4, 1),
                        probabilities=None if label is None else dict.fromkeys(LABELS, 0.25),
                        quality={
                            "brightness": 200.0,
                            "contrast": 30.0,
                            "clipped": 0.01,
                            "stained": 0.1,
                            "focus": 300.0,
                        },
                        reason="out_of_focus: focus 12 < 40" if status == "rejected" else None,
                        inference_ms=80.0,
                    )
                )
            if number % 3 == 0:
                store.add_review(Review(sample_id, "Dr Bench", "refer", "2026-02-01T00:00:00+00:00"))
    return [sample_id for sample_id, _ in plan]


def timed_get(port: int, path: str) -> tuple[float, float, int]:
    """(server-side ms from Server-Timing, round-trip ms, bytes)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    started = time.perf_counter()
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read()
    wall = (time.perf_counter() - started) * 1000
    connection.close()
    assert response.status == 200, (path, response.status, body[:200])
    server = float(response.getheader("Server-Timing").split("dur=")[1])
    return server, wall, len(body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fields", type=int, default=20_000)
    parser.add_argument("--big-fields", type=int, default=10_000, help="fields of the one big slide")
    parser.add_argument("--per-slide", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--model", type=Path, default=None, help="a bundle for the Station page (optional)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        began = time.perf_counter()
        samples = fill(
            tmp / "results.db", tmp / "frames", args.fields, args.big_fields, args.per_slide, args.seed
        )
        fill_s = time.perf_counter() - began
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        command = [
            sys.executable,
            "-m",
            "edge_all",
            "serve",
            "--model",
            str(args.model or tmp / "no-model"),
            "--camera",
            "picamera2",
            "--db",
            str(tmp / "results.db"),
            "--save-frames",
            str(tmp / "frames"),
            "--port",
            str(port),
        ]
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
            rss_idle = psutil.Process(server.pid).memory_info().rss
            small = samples[len(samples) // 2]
            last_big = (args.big_fields + 47) // 48
            pages = {
                "Slides (page 1 of the list)": "/slides",
                "Slides, search": "/slides?q=S-001",
                "Slides, last page": f"/slides?page={(len(samples) + 49) // 50}",
                f"Slide of {args.big_fields:,} fields, page 1": f"/slide?id={BIG}",
                f"Slide of {args.big_fields:,} fields, last page": f"/slide?id={BIG}&page={last_big}",
                f"Slide of {args.big_fields:,} fields, flagged only": f"/slide?id={BIG}&show=flagged",
                f"Slide of {args.per_slide} fields": f"/slide?id={quote(small)}",
                f"Report of the {args.big_fields:,}-field slide": f"/report?id={BIG}",
                "Station": "/",
                "New slide": "/new",
                "live state (polled every second)": "/capture/state",
            }
            rows = []
            for name, path in pages.items():
                for _ in range(3):
                    timed_get(port, path)
                results = [timed_get(port, path) for _ in range(args.rounds)]
                server_ms = [r[0] for r in results]
                wall_ms = [r[1] for r in results]
                rows.append(
                    (
                        name,
                        statistics.median(server_ms),
                        max(server_ms),
                        statistics.median(wall_ms),
                        results[0][2],
                    )
                )
            rss_after = psutil.Process(server.pid).memory_info().rss
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(30)

    facts = machine_facts()
    print(
        f"machine: {facts['cpu']}, {facts['cores']} cores, {facts['platform']}, Python {facts['python']}, "
        f"load average {facts['load_average']}"
    )
    print(
        f"database: {args.fields:,} fields in {len(samples):,} slides (one of {args.big_fields:,} fields), "
        f"filled in {fill_s:.0f} s; {args.rounds} requests per page after 3 warm-up requests\n"
    )
    print("| page | server-side median (ms) | server-side max (ms) | round trip median (ms) | HTML (KB) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, median, worst, wall, size in rows:
        print(f"| {name} | {median:.1f} | {worst:.1f} | {wall:.1f} | {size / 1024:.0f} |")
    print(
        f"\nserver resident memory (RSS): {rss_idle / 2**20:.0f} MiB after start-up, "
        f"{rss_after / 2**20:.0f} MiB after every page above"
    )


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
