# ruff: noqa: E501  (markdown table rows, kept one row to a line)
"""The cell model measured per source, through the device runtime (issue 22 step c's targets).

    .venv/bin/python benchmarks/cells_model.py --run RUN_DIR --bundle BUNDLE_DIR [--data ../shared/data]
        [--out benchmarks/results/cells_model.json]

RUN_DIR is the `edge-all train --task cells` run the bundle was converted from: its split.json says
which crops and fields are test, its cells.json each source's scale and stain statistics.

- home test crops (the crops the device cuts, already at 0.55 um/px and stain-normalised): accuracy on
  the confident answers, per-class recall, the share referred; and the home test FIELDS (224x224)
  through the real runtime at a given 0.55 um/px (quality gate, finder, stain, crops, roles).
- pbc and chula test crops: cleared as not ALL-like, confidently ALL-like, referred, dropped.
- chula test fields (1440x900) through the runtime at the given scale.
- ood-dev (GPL-3.0, never trained on: a check only), through the runtime at a scale given by eye
  (no red cells to estimate from): CellaVision blog 300x300, red cell ~85 px: 0.088 um/px; Tecom
  120x120, no red cell in view, a neutrophil ~76 px of ~12 um: 0.16 um/px.
- the trap check: the home lab's test blasts made to look like each other source (upsampled to its
  scale, Reinhard to its stain statistics, its blur, noise and JPEG), then read as the device reads
  them (resampled back, normalised to the bundle's stain, cropped at the cell): share flagged
  (ALL-like or referred).
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import time
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from edge_all.cells.resample import to_scale
from edge_all.cells.scale import ScaleEstimate
from edge_all.cells.stain import StainNormaliser
from edge_all.runtime.bundle import Stain
from edge_all.runtime.classifier import Classifier
from edge_all.runtime.images import load_rgb
from edge_all.triage.cells import CellReader, CellStatus, cell_status, crop_at
from edge_all.triage.decision import assess_field
from edge_all.triage.screening import FieldCounts, ScreeningRule, not_all_like_labels, screening_call
from edge_all.triage.thresholds import QualityThresholds
from training.cells_data import CROP_PX, UM_PER_PX, home_centres

ALL_LIKE = ("Early", "Pre", "Pro")
NORMAL = ("neutrophil", "lymphocyte", "monocyte", "eosinophil", "basophil")
OOD_SCALES = {"cellavision_blog_dataset2": 0.088, "tecom_dataset1": 0.16}
# How each source's camera is imitated for the trap check: blur (px at its own scale), noise, JPEG.
LOOK = {"pbc": (1.0, 2.0, 75), "chula": (1.5, 3.0, 90)}


def _share(counter: Counter, total: int) -> dict[str, float]:
    return {k: round(v / total, 4) for k, v in sorted(counter.items())} if total else {}


class Judge:
    """The bundle's classifier and its per-cell rule, as the device applies them."""

    def __init__(self, bundle: Path) -> None:
        self.classifier = Classifier.load(bundle, threads=1)
        manifest = self.classifier.manifest
        assert manifest is not None and manifest.reads_cells
        self.threshold = manifest.confidence_threshold
        self.roles = manifest.label_roles
        self.stain = StainNormaliser(manifest.stain)
        self.reader = CellReader(self.classifier)

    def crops(self, crops: list[np.ndarray]) -> list[tuple[str, CellStatus, bool]]:
        """(label, status, confident) of each crop (as cut by the device: at the scale, normalised)."""
        out = []
        for start in range(0, len(crops), 32):
            batch = np.stack([self.classifier.prepare(c) for c in crops[start : start + 32]])
            for p in self.classifier.predict_batch(batch):
                status, reason = cell_status(p, self.roles[p.label], self.threshold)
                confident = not (
                    status is CellStatus.REFERRED and reason is not None and "always refers" not in reason
                )
                out.append((p.label, status, confident))
        return out

    def field(self, rgb: np.ndarray, um_per_px: float):
        return assess_field(
            rgb, self.classifier, QualityThresholds(), self.threshold, scale=ScaleEstimate.given(um_per_px),
            reads_cells=True, cell_reader=self.reader,
        )  # fmt: skip


def crop_metrics(judged: list[tuple[str, CellStatus, bool]], truth: list[str]) -> dict:
    n = len(truth)
    confident = [(lab, t) for (lab, _, c), t in zip(judged, truth, strict=True) if c]
    per_class = {}
    for cls in sorted(set(truth)):
        rows = [(lab, s, c) for (lab, s, c), t in zip(judged, truth, strict=True) if t == cls]
        per_class[cls] = {
            "n": len(rows),
            "recall": round(sum(lab == cls for lab, _, _ in rows) / len(rows), 4),
            "status": _share(Counter(str(s) for _, s, _ in rows), len(rows)),
        }
    return {
        "n": n,
        "accuracy_on_confident": round(sum(lab == t for lab, t in confident) / len(confident), 4)
        if confident
        else None,
        "referred_unconfident": round(1 - len(confident) / n, 4) if n else None,
        "status": _share(Counter(str(s) for _, s, _ in judged), n),
        "per_class": per_class,
    }


def screening(judged: list[tuple[str, CellStatus, bool]], truth: list[str]) -> dict:
    """Blasts flagged (ALL-like or referred); not-ALL-like cells cleared / confidently ALL-like."""
    blasts = [s for (_, s, _), t in zip(judged, truth, strict=True) if t in ALL_LIKE]
    normal = [s for (_, s, _), t in zip(judged, truth, strict=True) if t in (*NORMAL, "Benign")]
    doc = {}
    if blasts:
        doc["blasts_flagged"] = round(
            sum(s in (CellStatus.ALL_LIKE, CellStatus.REFERRED) for s in blasts) / len(blasts), 4
        )
    if normal:
        doc["not_all_like_cleared"] = round(sum(s is CellStatus.CLEARED for s in normal) / len(normal), 4)
        doc["not_all_like_called_all_like"] = round(
            sum(s is CellStatus.ALL_LIKE for s in normal) / len(normal), 4
        )
    return doc


def field_summary(results: list, truths: list[str]) -> dict:
    """Field statuses: ALL-like (a confident ALL-like cell), referred, cleared, rejected (by reason)."""

    def kind(r) -> str:
        if r.status.value == "rejected":
            return "rejected:" + (r.reason or "").split(":", 1)[0]
        if any(c.status is CellStatus.ALL_LIKE for c in r.cells):
            return "all-like"
        return "referred" if r.status.value == "referred" else "cleared"

    kinds = [kind(r) for r in results]
    doc: dict = {"n": len(kinds), "status": _share(Counter(kinds), len(kinds))}
    blasts = [k for k, t in zip(kinds, truths, strict=True) if t in ALL_LIKE]
    normal = [k for k, t in zip(kinds, truths, strict=True) if t not in ALL_LIKE]
    if blasts:
        doc["all_fields_flagged"] = round(sum(k in ("all-like", "referred") for k in blasts) / len(blasts), 4)
        doc["all_fields_cleared"] = round(sum(k == "cleared" for k in blasts) / len(blasts), 4)
    if normal:
        doc["normal_fields_cleared"] = round(sum(k == "cleared" for k in normal) / len(normal), 4)
        doc["normal_fields_called_all_like"] = round(sum(k == "all-like" for k in normal) / len(normal), 4)
    return doc


def slides(results: list, truths: list[str], roles: dict[str, str], fields: int = 30) -> dict:
    """docs/referral.md's simulation with the cell model's home test fields: 2,000 slides of `fields`
    fields drawn independently, benign (no ALL field) and with a fifth of the fields leukaemic."""
    outcomes = [(r.status, r.prediction.label if r.prediction is not None else None) for r in results]
    sick_idx = np.flatnonzero([t in ALL_LIKE for t in truths])
    well_idx = np.flatnonzero([t not in ALL_LIKE for t in truths])
    rng = np.random.default_rng(0)
    labels, not_all = list(roles), not_all_like_labels(roles)
    doc = {}
    for share in (0.0, 0.2):
        calls: Counter[str] = Counter()
        for _ in range(2000):
            sick = rng.random(fields) < share
            picks = np.where(sick, rng.choice(sick_idx, fields), rng.choice(well_idx, fields))
            groups = Counter(outcomes[i] for i in picks)
            counts = FieldCounts.of(((st, lab, n) for (st, lab), n in groups.items()), not_all)
            calls[screening_call(counts, ScreeningRule(), labels, cell_model=True).verdict] += 1
        doc[f"share_{share}"] = _share(calls, 2000)
    return {"fields": fields, "slides": 2000, **doc}


def look_like(
    rgb: np.ndarray, centre: tuple[float, float], um: float, stats: dict, look: tuple, rng
) -> tuple[np.ndarray, tuple[float, float]]:
    """A 60 um window of a home field around a cell, as another source's camera would record it."""
    blur, noise, quality = look
    window = crop_at(rgb, centre[0], centre[1], 110)
    factor = 0.54 / um
    size = round(110 * factor)
    up = np.asarray(Image.fromarray(window).resize((size, size), Image.Resampling.BICUBIC))
    up = StainNormaliser(
        Stain("reinhard", "torchstain (numpy)", tuple(stats["means"]), tuple(stats["stds"]))
    )(up)
    image = Image.fromarray(up).filter(ImageFilter.GaussianBlur(blur))
    noisy = np.clip(np.asarray(image, np.float32) + rng.normal(0, noise, (size, size, 3)), 0, 255).astype(
        np.uint8
    )
    buffer = io.BytesIO()
    Image.fromarray(noisy).save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(buffer).convert("RGB")), (size / 2, size / 2)


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def markdown(doc: dict) -> str:
    """The results as the tables of docs/model-card-cells.md and docs/referral.md."""
    lines = [
        "| set | n | accuracy on confident | referred (unfamiliar / uncertain) | blasts flagged | not-ALL-like cleared | not-ALL-like called ALL-like |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for source in ("home", "pbc", "chula"):
        d = doc[f"{source}_crops"]
        lines.append(
            f"| {source} test crops | {d['n']} | {_pct(d['accuracy_on_confident'])} | {_pct(d['referred_unconfident'])} "
            f"| {_pct(d.get('blasts_flagged'))} | {_pct(d.get('not_all_like_cleared'))} | {_pct(d.get('not_all_like_called_all_like'))} |"
        )
    lines += [
        "",
        "| crops: class | n | recall | all-like | referred | cleared | dropped |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for source in ("home", "pbc", "chula"):
        for cls, d in doc[f"{source}_crops"]["per_class"].items():
            st = d["status"]
            lines.append(
                f"| {source} {cls} | {d['n']} | {_pct(d['recall'])} | {_pct(st.get('all-like', 0))} | "
                f"{_pct(st.get('referred', 0))} | {_pct(st.get('cleared', 0))} | {_pct(st.get('dropped', 0))} |"
            )
    lines += [
        "",
        "| fields through the runtime | scale given | n | ALL-like | referred | cleared | rejected (why) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    rows = [
        ("home test fields 224x224", UM_PER_PX, doc["home_fields"]),
        ("chula test fields 1440x900", doc["chula_fields"]["um_per_px_given"], doc["chula_fields"]),
    ]
    rows += [(f"ood-dev {k} (check only)", v["um_per_px_given"], v) for k, v in doc["ood_dev"].items()]
    for name, um, d in rows:
        st = d["status"]
        rejected = (
            ", ".join(f"{k.split(':', 1)[1]} {_pct(v)}" for k, v in st.items() if k.startswith("rejected"))
            or "0"
        )
        lines.append(
            f"| {name} | {um} | {d['n']} | {_pct(st.get('all-like', 0))} | {_pct(st.get('referred', 0))} | "
            f"{_pct(st.get('cleared', 0))} | {rejected} |"
        )
    h = doc["home_fields"]
    lines += [
        "",
        f"Home test fields: ALL fields flagged {_pct(h.get('all_fields_flagged'))}, ALL fields cleared {_pct(h.get('all_fields_cleared'))}; "
        f"Benign fields cleared {_pct(h.get('normal_fields_cleared'))}, Benign fields called ALL-like {_pct(h.get('normal_fields_called_all_like'))}.",
    ]
    s = doc["home_slides"]
    lines += [
        "",
        f"Slides of {s['fields']} fields ({s['slides']} each): benign {s['share_0.0']}; a fifth leukaemic {s['share_0.2']}.",
    ]
    lines += [
        "",
        "| home test blasts made to look like | n | flagged (ALL-like or referred) | ALL-like | referred | cleared |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for source, d in doc["blasts_made_to_look_like"].items():
        st = d["status"]
        lines.append(
            f"| {source} | {d['n']} | **{_pct(d['flagged'])}** | {_pct(st.get('all-like', 0))} | {_pct(st.get('referred', 0))} | {_pct(st.get('cleared', 0))} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--table", type=Path, help="only print the markdown tables of this results file")
    parser.add_argument("--run", type=Path)
    parser.add_argument("--bundle", type=Path)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/cells_model.json"))
    parser.add_argument("--look-like-max", type=int, default=400, help="home test blasts for the trap check")
    args = parser.parse_args()
    if args.table is not None:
        print(markdown(json.loads(args.table.read_text())))
        return
    if args.run is None or args.bundle is None:
        parser.error("--run and --bundle are needed (or --table FILE)")
    started = time.perf_counter()
    judge = Judge(args.bundle)
    split = json.loads((args.run / "split.json").read_text())
    cells = json.loads((args.run / "cells.json").read_text())
    crops_root = args.run / "cells"
    test = [r for r in split["images"] if r["part"] == "test"]
    doc: dict = {
        "run": str(args.run),
        "bundle": str(args.bundle),
        "machine": f"{platform.machine()}, 2-core AMD EPYC, shared with four other engineers, no GPU",
        "scale_um_per_px": UM_PER_PX,
        "crop_px": CROP_PX,
        "confidence_threshold": judge.threshold,
    }
    for source in ("home", "pbc", "chula"):
        rows = [r for r in test if r["file"].startswith(source + "/")]
        judged = judge.crops([load_rgb(crops_root / r["file"]) for r in rows])
        truth = [r["label"] for r in rows]
        doc[f"{source}_crops"] = {**crop_metrics(judged, truth), **screening(judged, truth)}
        print(source, "crops", json.dumps(doc[f"{source}_crops"], indent=None)[:600], flush=True)

    # home test fields, whole, through the runtime at 0.55 um/px
    home_fields = sorted(
        {
            (r["file"].split("/")[1], r["file"].split("/")[2].rsplit("_", 1)[0])
            for r in test
            if r["file"].startswith("home/")
        }
    )
    results, truths = [], []
    for label, stem in home_fields:
        rgb = load_rgb(args.data / "ALL/Original" / label / f"{stem}.jpg")
        results.append(judge.field(rgb, UM_PER_PX))
        truths.append(label)
    doc["home_fields"] = field_summary(results, truths)
    doc["home_slides"] = slides(results, truths, judge.roles)
    print("home fields", doc["home_fields"], flush=True)

    chula_fields = sorted(
        {
            (r["label"], r["file"].split("/")[2].rsplit("_", 1)[0])
            for r in test
            if r["file"].startswith("chula/")
        }
    )
    um = cells["sources"]["chula"]["um_per_px"]
    results = [
        judge.field(load_rgb(args.data / "chula-fields/field" / f"{stem}.jpg"), um)
        for _, stem in chula_fields
    ]
    doc["chula_fields"] = {**field_summary(results, [lab for lab, _ in chula_fields]), "um_per_px_given": um}
    print("chula fields", doc["chula_fields"], flush=True)

    ood = {}
    for folder, um in OOD_SCALES.items():
        files = sorted((args.data / "ood-dev/zheng2018_wbc" / folder).glob("*/*.png"))
        results = [judge.field(load_rgb(f), um) for f in files]
        ood[folder] = {**field_summary(results, [f.parent.name for f in files]), "um_per_px_given": um}
        print("ood", folder, ood[folder], flush=True)
    doc["ood_dev"] = ood

    # the trap: home test blasts made to look like each other source
    rng = np.random.default_rng(0)
    blasts = [(lab, stem) for lab, stem in home_fields if lab in ALL_LIKE][: args.look_like_max]
    trap: dict = {}
    for source in ("home", "pbc", "chula"):
        statuses = []
        for label, stem in blasts:
            rgb = load_rgb(args.data / "ALL/Original" / label / f"{stem}.jpg")
            seg_path = args.data / "ALL/Segmented" / label / f"{stem}.jpg"
            centre = home_centres(rgb, load_rgb(seg_path) if seg_path.is_file() else None)[0]
            centre = centre or (rgb.shape[1] / 2, rgb.shape[0] / 2)
            if source == "home":
                image, at = rgb, centre
                um = 0.54
            else:
                um = cells["sources"][source]["um_per_px"]
                image, at = look_like(rgb, centre, um, cells["source_stain"][source], LOOK[source], rng)
            scaled = to_scale(image, um, UM_PER_PX)
            crop = crop_at(judge.stain(scaled.rgb), at[0] * scaled.factor, at[1] * scaled.factor, CROP_PX)
            statuses.append(judge.crops([crop])[0][1])
        n = len(statuses)
        trap[source] = {
            "n": n,
            "flagged": round(sum(s in (CellStatus.ALL_LIKE, CellStatus.REFERRED) for s in statuses) / n, 4),
            "status": _share(Counter(str(s) for s in statuses), n),
            "look": None
            if source == "home"
            else dict(zip(("blur_px", "noise_std", "jpeg_quality"), LOOK[source], strict=True)),
        }
        print("trap", source, trap[source], flush=True)
    doc["blasts_made_to_look_like"] = trap
    doc["seconds"] = round(time.perf_counter() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    print(markdown(doc))
    print(f"wrote {args.out} in {doc['seconds']} s")


if __name__ == "__main__":
    main()
