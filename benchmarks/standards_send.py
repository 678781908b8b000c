"""Sending a 50-field slide to a real Orthanc on this machine: how long the hub's outbox takes.

    python -m benchmarks.standards_send [--fields 50] [--rounds 3] [--out FILE.json]

Starts Orthanc (Debian's orthanc + orthanc-dicomweb) on loopback with a fresh storage folder, as the
tests do, and for each case (640x480 and 1440x900 fields, as uncompressed pixels and as the clinic's
JPEG) builds the slide's 50 images and its SR, queues them in a SQLite outbox, and sends them over
STOW-RS, one request per instance, with and without the QIDO-RS check that each one is really stored.
Each round is a new slide (new UIDs), so Orthanc stores every instance each time. Median of the rounds;
Orthanc runs on the same 2 cores, so its time is in the numbers too.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine

from edge_all.runtime.benchmark import machine_facts
from edge_all.standards.delivery import State
from edge_all.standards.delivery_sql import SqlDeliveryStore
from edge_all.standards.endpoints import Endpoint
from edge_all.standards.outbox import queue_slide, send_due
from edge_all.standards.pacs import StowSender
from tests.servers.standards import start_orthanc, stop
from tests.standards.helpers import START, UIDS, make_slide

SIZES = ((640, 480), (1440, 900))


def one_round(orthanc, fields: int, size, as_jpeg: bool, confirm: bool, index: int) -> dict[str, float]:
    tag = f"{size[0]}x{size[1]}-{'jpeg' if as_jpeg else 'px'}-{'c' if confirm else 'n'}-{index}"
    slide = make_slide(
        fields, size, as_jpeg=as_jpeg, record_id=f"bench-{tag}", sample_id=f"B{index}{size[0]}"
    )
    store = SqlDeliveryStore(create_engine("sqlite://"))
    started = time.perf_counter()
    queued = queue_slide(store, slide, UIDS, START, fhir=False)
    built = time.perf_counter()
    sender = StowSender(Endpoint(orthanc.dicomweb, *orthanc.auth, timeout_s=120), confirm=confirm)
    attempts = send_due(store, sender, START, limit=len(queued))
    sent = time.perf_counter()
    if [a.outcome.state for a in attempts] != [State.SENT] * len(queued):
        raise RuntimeError(
            f"not all sent: {[a.outcome for a in attempts if a.outcome.state is not State.SENT]}"
        )
    megabytes = sum(len(store.payload(d.id)) for d in queued) / 1e6
    return {"build_and_queue_s": built - started, "send_s": sent - built, "megabytes": megabytes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fields", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/standards_send.json"))
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        orthanc = start_orthanc(Path(folder))
        try:
            for size in SIZES:
                for as_jpeg in (False, True):
                    for confirm in (True, False):
                        rounds = [
                            one_round(orthanc, args.fields, size, as_jpeg, confirm, i)
                            for i in range(args.rounds)
                        ]
                        row = {
                            "fields": args.fields,
                            "size": f"{size[0]}x{size[1]}",
                            "picture": "JPEG" if as_jpeg else "pixels",
                            "confirm_by_qido": confirm,
                            "instances": args.fields + 1,
                            "megabytes": round(rounds[0]["megabytes"], 1),
                            "build_and_queue_s": round(
                                statistics.median(r["build_and_queue_s"] for r in rounds), 2
                            ),
                            "send_s": round(statistics.median(r["send_s"] for r in rounds), 2),
                        }
                        rows.append(row)
                        print(json.dumps(row))
        finally:
            stop(orthanc.process)
    result = {
        "machine": machine_facts(),
        "orthanc": "Debian orthanc 1.10.1, orthanc-dicomweb 1.7",
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
