"""The hospital hub under load: many clinics syncing at once to one hub on PostgreSQL, on this machine.

Each simulated clinic is a real results database (rows written by ResultsStore.add, each field with
its own small PNG) and the real sync client (edge_all.sync.engine.Syncer, in its own process, with its
own outbox and HTTP connection), talking to the real `edge-all hub` (uvicorn, one process) on a real
PostgreSQL 15 as the application's role. Scenarios:

- plain:   every clinic starts at once and sends its fields;
- faults:  the same, with the hub killed (-9) and restarted twice and PostgreSQL restarted once;
- proxy:   the same through a TCP proxy that cuts 10% of connections at a random point;
- link-up: one clinic with `sync --watch`; the link is down, a field is recorded, the link comes
           back: how long until the field is on the worklist (the 5-second target), 10 times;
- sign-off: a sign-off made at the hub, and whether the clinic holds it after its next sync.

After each run it checks the hub holds exactly every field once (0 lost, 0 duplicated) and every
outbox is empty; prints fields/s, request latency (p50/p95 per kind) and time-to-hub, as markdown for
docs/hub.md. Needs postgresql-15 (as tests/hub do). A benchmark, never a timed test.

    python benchmarks/hub_load.py                          # 50 clinics x 200 fields, every scenario
    python benchmarks/hub_load.py --clinics 10 --fields 50 --scenarios plain
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge_all.accounts.audit import SYSTEM  # noqa: E402
from edge_all.accounts.database import open_engine  # noqa: E402
from edge_all.accounts.devices import Devices  # noqa: E402
from edge_all.accounts.people import Accounts  # noqa: E402
from edge_all.hub import migrate  # noqa: E402
from edge_all.results.store import CaptureRecord, ResultsStore, SessionInfo  # noqa: E402
from edge_all.runtime.benchmark import machine_facts  # noqa: E402
from edge_all.sync import credentials  # noqa: E402
from tests.servers.hub import HubProcess, hub_command  # noqa: E402
from tests.servers.postgres import remove, start_postgres  # noqa: E402
from tests.servers.proxy import Proxy  # noqa: E402
from tests.servers.required import free_port  # noqa: E402

LABELS = ["Benign", "Early", "Pre", "Pro"]


def record_fields(db: Path, sample: str, n: int, seed: int) -> None:
    """n fields of one slide, each with its own 64x64 PNG, through the capture loop's own store."""
    rng = np.random.default_rng(seed)
    frames = db.parent / "frames"
    frames.mkdir(parents=True, exist_ok=True)
    with ResultsStore.open(db) as store:
        store.connection.execute("PRAGMA synchronous=OFF")  # faster to fill; the sync reads it the same
        session = store.start_session(
            SessionInfo(started_at="2026-03-02T08:00:00.000+00:00", source="bench", sample_id=sample,
                        model="bundles/bench", bundle_sha256="5e" * 32, labels=LABELS, threshold=0.6,
                        quality_thresholds=None, edge_all_version="bench")
        )  # fmt: skip
        for index in range(n):
            path = frames / f"{sample}-{seed}-{index:04d}.png"
            buffer = io.BytesIO()
            Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buffer, "PNG")
            path.write_bytes(buffer.getvalue())
            label = LABELS[int(rng.integers(0, 4))]
            at = time.strftime("%Y-%m-%dT%H:%M:%S.000+00:00", time.gmtime())
            store.add(CaptureRecord(
                session_id=session, captured_at=at, sample_id=sample, source="bench", frame_index=index,
                origin=f"bench#{index}", status="classified", bundle_sha256="5e" * 32, image_path=str(path),
                label=label, confidence=0.9, quality={"focus": 300.0},
            ))  # fmt: skip


def clinic_worker(args) -> dict:
    """One clinic's sync, timed: every HTTP request's latency by kind, and when it finished."""
    db, credential_path, fresh = args
    deadline = time.monotonic() + 1800
    from edge_all.sync.engine import BACKOFF_CAP, BACKOFF_START, Syncer
    from edge_all.sync.link import LinkDown

    syncer = Syncer(Path(db), credentials.read(Path(credential_path)))
    timings: dict[str, list[float]] = {}
    request = syncer.link.request

    def timed(method, path, *rest, **kw):
        started = time.perf_counter()
        answer = request(method, path, *rest, **kw)
        kind = f"{method} {path.split('/')[1].split('?')[0]}"
        timings.setdefault(kind, []).append(time.perf_counter() - started)
        if fresh:  # a new TCP connection for every request: what the cutting proxy then cuts
            syncer.link.close()
        return answer

    syncer.link.request = timed
    failures, delay, started = 0, BACKOFF_START, time.monotonic()
    while time.monotonic() < deadline:
        answered = syncer.link.answers
        try:
            result = syncer.run_pass()
            delay = BACKOFF_START
            if result.pending == 0:
                break
        except LinkDown:
            failures += 1
            if syncer.link.answers > answered:  # as engine.watch: the hub answers, go on at once
                delay = BACKOFF_START
            time.sleep(delay)
            delay = min(BACKOFF_CAP, delay * 2)
    pending = syncer.outbox.state().pending
    syncer.close()
    return {
        "timings": timings,
        "failures": failures,
        "seconds": time.monotonic() - started,
        "pending": pending,
    }


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


class World:
    """PostgreSQL, the hub on it (as the application's role), and enrolled clinics."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.postgres = start_postgres()
        self.owner_url, self.app_url = self.postgres.new_database("bench")
        owner = open_engine(self.owner_url)
        migrate.upgrade(owner)
        migrate.grant(owner, "hub_app")
        self.owner = owner
        port = free_port()
        self.hub = HubProcess(
            hub_command(self.app_url, str(tmp / "pictures"), port, "--no-migrate"), port, tmp / "hub.log"
        ).start()
        self.accounts = Accounts(owner)
        self.devices = Devices(owner)

    def clinic(self, name: str, url: str) -> tuple[Path, Path]:
        self.accounts.add_clinic(name, name, SYSTEM)
        enrolment = self.devices.enrol(self.devices.issue_code(name, f"pi-{name}", SYSTEM), "bench")
        folder = self.tmp / name
        folder.mkdir()
        path = credentials.write(folder / credentials.FILE, credentials.Credential(
            url, name, enrolment.device.id, enrolment.token, "system"))  # fmt: skip
        return folder / "results.db", path.path

    def held(self, prefix: str) -> tuple[int, int, int]:
        """(fields, distinct record ids, distinct (slide, frame)) for clinics named with `prefix`."""
        from sqlalchemy import text

        with self.owner.connect() as connection:
            row = connection.execute(text(
                "SELECT COUNT(*), COUNT(DISTINCT f.record_id), COUNT(DISTINCT (f.slide_id, f.frame_index)) "
                "FROM fields f JOIN slides s ON s.id = f.slide_id WHERE s.clinic_id LIKE :p"
            ), {"p": f"{prefix}%"}).one()  # fmt: skip
        return tuple(row)

    def close(self) -> None:
        self.hub.stop()
        self.owner.dispose()
        remove(self.postgres)


def load(world: World, tag: str, clinics: int, fields: int, url: str, *, faults=False, fresh=False) -> dict:
    jobs = []
    for index in range(clinics):
        db, credential = world.clinic(f"{tag}-{index:02d}", url)
        record_fields(db, f"{tag.upper()}-{index:02d}", fields, seed=hash(tag) % 10**6 * 1000 + index)
        jobs.append((str(db), str(credential), fresh))
    done = threading.Event()
    events: list[str] = []

    def inject() -> None:
        total = clinics * fields
        for share, action in ((0.2, "hub"), (0.45, "postgres"), (0.7, "hub")):
            while not done.is_set() and world.held(tag)[0] < share * total:
                time.sleep(0.2)
            if done.is_set():
                return
            if action == "hub":
                world.hub.stop(signal.SIGKILL)
                world.hub.start()
            else:
                world.postgres.restart()
            events.append(f"{action} restarted at {world.held(tag)[0]} fields")

    injector = threading.Thread(target=inject, daemon=True) if faults else None
    started = time.monotonic()
    if injector:
        injector.start()
    with multiprocessing.get_context("fork").Pool(clinics) as pool:
        results = pool.map(clinic_worker, jobs)
    seconds = time.monotonic() - started
    done.set()
    if injector:
        injector.join(30)
    timings: dict[str, list[float]] = {}
    for result in results:
        for kind, values in result["timings"].items():
            timings.setdefault(kind, []).extend(values)
    held, distinct, frames = world.held(tag)
    pending = sum(result["pending"] for result in results)  # still in an outbox: late, not lost
    return {
        "scenario": tag, "clinics": clinics, "fields": clinics * fields, "held": held,
        "lost": clinics * fields - distinct - pending, "duplicated": held - distinct,
        "frames_distinct": frames,
        "pending": pending, "seconds": seconds,
        "fields_per_s": distinct / seconds, "failures": sum(r["failures"] for r in results),
        "latency": {k: (percentile(v, 50), percentile(v, 95), len(v)) for k, v in sorted(timings.items())},
        "events": events,
    }  # fmt: skip


def link_up(world: World, trials: int) -> list[float]:
    """Seconds from the link coming back to the field recorded meanwhile being on the hub."""
    import subprocess

    proxy = Proxy(world.hub.port)
    db, credential = world.clinic("linkup-00", proxy.url)
    record_fields(db, "LINKUP", 1, seed=99)
    command = [
        sys.executable,
        "-m",
        "edge_all",
        "sync",
        "--watch",
        "--db",
        str(db),
        "--credential",
        str(credential),
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    delays = []
    try:
        for trial in range(trials):
            expected = world.held("linkup")[0] + 1
            proxy.cut_link()
            time.sleep(6.0)  # long enough for the clinic's backoff to reach its cap
            record_fields(db, "LINKUP", 1, seed=100 + trial)
            time.sleep(1.0)
            proxy.down = False
            back = time.monotonic()
            while world.held("linkup")[0] < expected:
                if time.monotonic() - back > 60:
                    raise AssertionError("the field never arrived")
                time.sleep(0.02)
            delays.append(time.monotonic() - back)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        proxy.close()
    return delays


def signoff_round_trip(world: World) -> bool:
    from edge_all.hub.storage import HubStore
    from edge_all.sync.engine import Syncer

    db, credential = world.clinic("signoff-00", world.hub.url)
    record_fields(db, "SIGNOFF", 3, seed=7)
    syncer = Syncer(db, credentials.read(credential))
    syncer.run_pass()
    admin = world.accounts.add_person("bench-admin", "Bench", "administrator", "x" * 12, (), SYSTEM)
    store = HubStore(open_engine(world.app_url))
    (slide,) = [s for s in store.worklist(admin, "all") if s["clinic_id"] == "signoff-00"]
    store.add_review(slide["id"], admin, "refer", "bench", field_id=None, signoff=True, client="bench")
    result = syncer.run_pass()
    held = syncer.outbox.hub_reviews("SIGNOFF")
    syncer.close()
    return result.signoffs == 1 and held[0]["decision"] == "refer"


def markdown(results: list[dict]) -> str:
    lines = [
        "| scenario | clinics x fields | held | lost | duplicated | seconds | fields/s "
        "| POST records p50 / p95 | PUT blobs p50 / p95 | failed tries | left in outboxes |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        post = r["latency"].get("POST records", (float("nan"),) * 3)
        put = r["latency"].get("PUT blobs", (float("nan"),) * 3)
        lines.append(
            f"| {r['scenario']} | {r['clinics']} x {r['fields'] // r['clinics']} | {r['held']} | "
            f"{r['lost']} | "
            f"{r['duplicated']} | {r['seconds']:.1f} | {r['fields_per_s']:.0f} | {post[0] * 1000:.0f} / "
            f"{post[1] * 1000:.0f} ms | {put[0] * 1000:.0f} / {put[1] * 1000:.0f} ms | {r['failures']} | "
            f"{r['pending']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clinics", type=int, default=50)
    parser.add_argument("--fields", type=int, default=200)
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--scenarios", default="plain,faults,proxy,link-up,sign-off")
    args = parser.parse_args()
    scenarios = args.scenarios.split(",")
    tmp = Path(tempfile.mkdtemp(prefix="edge-all-hub-bench-"))
    world = World(tmp)
    results = []
    try:
        print(f"machine: {machine_facts()}", flush=True)
        if "plain" in scenarios:
            results.append(load(world, "plain", args.clinics, args.fields, world.hub.url))
            print(results[-1], flush=True)
        if "faults" in scenarios:
            results.append(load(world, "faults", args.clinics, args.fields, world.hub.url, faults=True))
            print(results[-1], flush=True)
        if "proxy" in scenarios:
            proxy = Proxy(world.hub.port, cut_fraction=0.10, seed=1)
            results.append(load(world, "proxy", args.clinics, args.fields, proxy.url, fresh=True))
            results[-1]["events"].append(f"proxy cut {proxy.cut} of {proxy.connections} connections")
            proxy.close()
            print(results[-1], flush=True)
        print(markdown(results))
        for result in results:
            if result["events"]:
                print(f"{result['scenario']}: {'; '.join(result['events'])}")
        if "link-up" in scenarios:
            delays = link_up(world, args.trials)
            print(
                f"link up -> field on the hub: median {statistics.median(delays):.2f} s, "
                f"max {max(delays):.2f} s "
                f"over {len(delays)} trials: {[round(d, 2) for d in delays]}"
            )
        if "sign-off" in scenarios:
            print(f"a sign-off reaches the clinic on its next sync: {signoff_round_trip(world)}")
    finally:
        world.close()


if __name__ == "__main__":
    main()
