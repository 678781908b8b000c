"""Run the real station (`edge-all serve` in a subprocess on a loopback port) and seed its database.

The server is the one a clinic runs: same command, same uvicorn, same SQLite file. Seeded rows are
written through ResultsStore with real PNG files, like the capture loop writes them.
"""

from __future__ import annotations

import http.client
import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from edge_all.results.store import CaptureRecord, ResultsStore, SessionInfo

LABELS = ["Benign", "Early", "Pre", "Pro"]
# uvicorn finishes its graceful shutdown on SIGTERM, then re-raises the signal: systemd counts an
# exit by SIGTERM as a clean stop (SuccessExitStatus), like exit status 0.
STOPPED_CLEANLY = (0, -signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Station:
    """A running `edge-all serve` and the files it uses."""

    process: subprocess.Popen
    url: str
    db: Path
    frames: Path
    password_file: Path
    log: Path
    stopped: bool = False

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, as systemd stops it; returns the exit code."""
        if not self.stopped:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError(f"the station did not stop on SIGTERM:\n{self.output()}") from None
            self.stopped = True
        return self.process.returncode

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def serve_command(db: Path, frames: Path, model: Path, camera: str, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "edge_all", "serve", "--model", str(model), "--camera", camera,
        "--db", str(db), "--save-frames", str(frames), "--threads", "1", *extra,
    ]  # fmt: skip


def start_station(tmp: Path, model: Path, camera: str, *extra: str, https: bool = False) -> Station:
    tmp.mkdir(parents=True, exist_ok=True)
    port = free_port()
    db, frames = tmp / "results.db", tmp / "frames"
    log = tmp / "station.log"
    command = serve_command(db, frames, model, camera, "--port", str(port), *extra)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    scheme = "https" if https else "http"
    station = Station(process, f"{scheme}://127.0.0.1:{port}", db, frames, tmp / "station-password.json", log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the station exited with {process.returncode}:\n{station.output()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2):
                return station
        except OSError:
            time.sleep(0.1)
    station.stop()
    raise AssertionError(f"the station did not answer within 60 s:\n{station.output()}")


def smear_png(path: Path, label: str, seed: int, tint: tuple[int, int, int] | None = None) -> Path:
    """A real PNG of a synthetic smear; `tint` makes a heat-map-like overlay of it."""
    from training.demo_data import draw_smear

    rgb = draw_smear(label, np.random.default_rng(seed))[0]
    if tint is not None:
        rgb = (0.5 * rgb + 0.5 * np.array(tint, np.float32)).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path)
    return path


@dataclass
class SeededField:
    status: str
    label: str | None
    confidence: float | None = None
    reason: str | None = None
    heatmap: bool = False
    image: Path | str | None = field(default=None)  # None: a smear PNG in the frames folder


def seed_slide(db: Path, frames: Path, sample_id: str, fields: list[SeededField]) -> list[int]:
    """Record a slide the way the capture loop does (session, then one row per field)."""
    with ResultsStore.open(db) as store:
        session = store.start_session(
            SessionInfo(
                started_at="2026-03-02T08:00:00.000+00:00", source="video:seeded.avi", sample_id=sample_id,
                model="bundles/seeded", bundle_sha256="5e" * 32, labels=LABELS, threshold=0.6,
                quality_thresholds={"min_focus": 40.0}, edge_all_version="test",
            )
        )  # fmt: skip
        ids = []
        for index, spec in enumerate(fields):
            stem = f"seeded-{abs(hash(sample_id)) % 10**6}-{index:03d}"
            image = spec.image or smear_png(frames / f"{stem}.png", spec.label or "Benign", index)
            heatmap = smear_png(frames / f"{stem}-heatmap.png", spec.label or "Benign", index, (255, 0, 0))
            probabilities = None
            if spec.label and spec.confidence is not None:
                rest = (1 - spec.confidence) / 3
                probabilities = {label: spec.confidence if label == spec.label else rest for label in LABELS}
            ids.append(
                store.add(
                    CaptureRecord(
                        session_id=session, captured_at=f"2026-03-02T08:00:{index % 60:02d}.000+00:00",
                        sample_id=sample_id, source="video:seeded.avi", frame_index=index,
                        origin=f"video:seeded.avi#{index}", status=spec.status, bundle_sha256="5e" * 32,
                        image_path=str(image), label=spec.label, confidence=spec.confidence,
                        probabilities=probabilities, reason=spec.reason,
                        quality={"brightness": 200.0, "contrast": 30.0, "clipped": 0.01, "stained": 0.1,
                                 "focus": 300.0},
                        heatmap_path=str(heatmap) if spec.heatmap else None,
                    )
                ).id
            )  # fmt: skip
        store.end_session(session, "2026-03-02T08:01:00.000+00:00", "seeded")
    return ids


class Client:
    """A plain HTTP client with cookies, from a chosen loopback source address."""

    def __init__(self, url: str, source: str = "127.0.0.1") -> None:
        parsed = urllib.parse.urlsplit(url)
        self.host, self.port = parsed.hostname, parsed.port
        self.source = source
        self.cookies: dict[str, str] = {}

    def request(
        self,
        method: str,
        path: str,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes, list[str]]:
        """(status, headers (lower-case names), body, raw Set-Cookie headers)."""
        connection = http.client.HTTPConnection(
            self.host, self.port, timeout=30, source_address=(self.source, 0)
        )
        body = urllib.parse.urlencode(form).encode() if form is not None else None
        sent = dict(headers or {})
        if body is not None:
            sent.setdefault("Content-Type", "application/x-www-form-urlencoded")
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        data = response.read()
        set_cookies = response.headers.get_all("Set-Cookie") or []
        for raw in set_cookies:
            name, _, rest = raw.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        result_headers = {k.lower(): v for k, v in response.getheaders()}
        connection.close()
        return response.status, result_headers, data, set_cookies

    def get(self, path: str, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path: str, form: dict[str, str], **kwargs):
        return self.request("POST", path, form=form, **kwargs)

    def csrf(self, path: str = "/") -> str:
        """The CSRF token the page at `path` carries in its forms."""
        status, _, body, _ = self.get(path)
        match = re.search(rb'name="csrf_token" value="([^"]+)"', body)
        assert match, f"no CSRF token on {path} ({status})"
        return match.group(1).decode()
