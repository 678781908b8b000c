"""What the operator reads while capturing: one line per frame (and, with --json, one JSON object)."""

from __future__ import annotations

import json
from dataclasses import asdict

from edge_all.results.store import CaptureRecord
from edge_all.results.summary import REFERRED_TEXT, UNCERTAIN_TEXT
from edge_all.safe_text import printable
from edge_all.triage.status import Status


def live_line(record: CaptureRecord) -> str:
    """`#12  Pre 0.93  focus 312 bright 214  14.2 ms  video:a.avi#12` (status decides the middle).

    Everything that came from outside (labels, reasons naming files, the origin) is `printable`.
    """
    quality = record.quality
    quality_text = (
        f"focus {quality['focus']:.0f} bright {quality['brightness']:.0f}"
        if quality
        else "quality not checked"
    )
    if record.status == Status.CLASSIFIED:
        verdict = f"{record.label} {record.confidence:.2f}"
    elif record.status == Status.UNCERTAIN:
        verdict = f"{UNCERTAIN_TEXT} (best {record.label} {record.confidence:.2f})"
    elif record.status == Status.REFERRED and record.unfamiliarity is not None:
        verdict = f"{REFERRED_TEXT} (unfamiliarity {record.unfamiliarity:.2f}; best {record.label})"
    elif record.status == Status.REFERRED:  # a cell model's referred cells, or scale unknown
        verdict = f"referred: {record.reason}"
    elif record.status == Status.REJECTED:
        verdict = f"rejected: {record.reason}"
    else:
        verdict = f"error: {record.reason}"
    latency = f"{record.inference_ms:.1f} ms" if record.inference_ms is not None else "-"
    line = f"#{record.frame_index:<4d} {verdict}  [{quality_text}]  {latency}  {record.origin}"
    # A cell model's white cells, one line each: box (the frame's pixels), class, status.
    warning = [f"      warning: {record.drift}"] if record.drift else []
    cells = [
        f"      cell [{', '.join(map(str, c.box))}] {c.label} {c.confidence:.2f} {c.status}"
        for c in record.cells
    ]
    return "\n".join(printable(text) for text in (line, *warning, *cells))


def record_json(record: CaptureRecord) -> str:
    return json.dumps(asdict(record), sort_keys=True)
