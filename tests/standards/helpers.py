"""Slides for the standards tests: synthetic smears with white cells drawn where their boxes say."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import numpy as np
from PIL import Image

from edge_all.standards.records import (
    Box,
    Cell,
    Decision,
    FieldExport,
    ModelUsed,
    Patient,
    ScreeningCall,
    SignOff,
    SlideExport,
    StagePosition,
    Verdict,
)
from edge_all.standards.uids import UidScheme

START = datetime(2026, 3, 4, 9, 30, tzinfo=timezone(timedelta(hours=2)))
LABELS = ("Benign", "Early", "Pre", "Pro", "Neutrophil")
UIDS = UidScheme("hub-under-test")


def smear(width: int, height: int, rng: np.random.Generator, boxes: list[Box]) -> np.ndarray:
    """A pink field with a purple disc in every box: enough structure to tell fields apart."""
    pixels = np.empty((height, width, 3), np.uint8)
    pixels[...] = (232, 196, 206)
    pixels += rng.integers(0, 12, pixels.shape, dtype=np.uint8)
    yy, xx = np.mgrid[0:height, 0:width]
    for b in boxes:
        cy, cx, r = (b.y0 + b.y1) / 2, (b.x0 + b.x1) / 2, min(b.x1 - b.x0, b.y1 - b.y0) / 2
        pixels[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = (96, 40, 140)
    return pixels


def jpeg(pixels: np.ndarray, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def make_slide(
    fields: int = 3,
    size: tuple[int, int] = (320, 240),
    *,
    as_jpeg: bool = False,
    stage: bool = False,
    signed: bool = True,
    patient: Patient | None = None,
    um_per_pixel: float | None = 0.25,
    sample_id: str = "S-0042",
    record_id: str = "slide-1",
    sign_off_id: str = "signoff-1",
    earlier_sign_offs: tuple[str, ...] = (),
    seed: int = 5,
) -> SlideExport:
    rng = np.random.default_rng(seed)
    width, height = size
    made = []
    for number in range(1, fields + 1):
        cells = []
        for index in range(int(rng.integers(1, 5))):
            x0, y0 = int(rng.integers(0, width - 50)), int(rng.integers(0, height - 50))
            side = int(rng.integers(20, 48))
            label = LABELS[(number + index) % len(LABELS)]
            status = "classified" if index % 3 else "referred"
            cells.append(
                Cell(Box(x0, y0, x0 + side, y0 + side), label, round(float(rng.uniform(0.5, 1)), 4), status)
            )
        pixels = smear(width, height, rng, [c.box for c in cells])
        made.append(
            FieldExport(
                record_id=f"field-{number}",
                number=number,
                captured_at=START + timedelta(seconds=7 * number),
                picture=jpeg(pixels) if as_jpeg else pixels,
                cells=tuple(cells),
                um_per_pixel=um_per_pixel,
                stage=StagePosition(10.0 + number * 0.35, 20.5, 0.012) if stage else None,
            )
        )
    all_like = sum(any(c.label in ("Early", "Pre", "Pro") for c in f.cells) for f in made)
    return SlideExport(
        record_id=record_id,
        sample_id=sample_id,
        clinic="Clinique de Kolwezi",
        clinic_id="clinic-7",
        fields=tuple(made),
        model=ModelUsed("mobilenet_v2-all", "1.3.0", "ab" * 32, "cd" * 32),
        call=ScreeningCall(Verdict.REFER, f"refer: ALL-like cells in {all_like} of {fields} fields",
                           fields, fields, all_like, 0, 0),
        sign_off=(
            SignOff(sign_off_id, Decision.REFER, "Dr Amani Mwangi", "account-12", START + timedelta(hours=3),
                    "Blasts seen; refer to haematology")
            if signed
            else None
        ),
        patient=patient,
        earlier_sign_offs=earlier_sign_offs,
    )  # fmt: skip


def sr_words(ds) -> list[str]:
    """Every TEXT value and coded value's meaning in an SR's content tree, in order."""
    words = []
    for item in ds.get("ContentSequence", []):
        if "TextValue" in item:
            words.append(item.TextValue)
        if "ConceptCodeSequence" in item:
            words.append(item.ConceptCodeSequence[0].CodeMeaning)
        words.extend(sr_words(item))
    return words
