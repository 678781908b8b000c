"""Issue 23's "before and after" run: commission on 50 fields of another lab, read the other 100.

    python benchmarks/commission_chula.py ../shared/data/chula-fields/field BUNDLE OUT_DIR \
        [--parts PARTS.json] [--json benchmarks/results/commission_chula.json]

The fields are taken in name order and every third one (0, 3, 6, ...) commissions, the rest are read:
the names group the fields by their annotated cell (B-, E-, L-, M-, N-), so the first 50 would be a
smear of basophils and eosinophils. It runs the product's own commands (`edge-all commission`, then
`edge-all classify --json --model BUNDLE`, without and with `--site`) and counts, per reading, the
fields cleared / referred (by reason) / rejected (by reason) / confidently ALL-like, and the white
cells found and what each came to. A site that is NOT READY is refused by `--site`; to show what its
profile would change, the "after" reading then uses a copy marked ready (`overridden`), and says so.
`--parts`: a {field name: "train" | "val" | "test"} map of the
model's own training split, so the held-out fields are counted apart too.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

EDGE_ALL = [sys.executable, "-m", "edge_all"]


def _reason(text: str | None, rejected: bool = False) -> str:
    """A reason's kind, without its numbers (a rejection's code; a referral's inner reason)."""
    if not text:
        return "none"
    if rejected or re.match(r"^[a-z_]+: ", text):  # a code first (scale_unknown: ...): the code
        return text.split(":")[0]
    text = re.sub(r"^\d+ of \d+ white cells referred \((.*)\)$", r"\1", text)
    text = re.sub(r"\(unfamiliarity [^)]*\)", "(unfamiliar)", text)
    text = re.sub(r"confidence [0-9.]+ below [0-9.]+", "uncertain (confidence below the threshold)", text)
    text = re.sub(r"^[A-Za-z_]+: a class this model always refers", "a class this model always refers", text)
    return text


def tally(lines: list[dict], all_like: set[str], names: set[str] | None = None) -> dict:
    fields = [r for r in lines if names is None or Path(r["file"]).name in names]
    out: Counter = Counter()
    referred, rejected, cells = Counter(), Counter(), Counter()
    for r in fields:
        status = r.get("status") or "error"
        if status == "classified":
            out["all_like" if r.get("label") in all_like else "cleared"] += 1
        elif status in ("referred", "uncertain"):
            out["referred"] += 1
            referred[_reason(r.get("reason"))] += 1
        else:
            out[status] += 1
            rejected[_reason(r.get("reason"), True)] += 1
        for cell in r.get("cells") or []:
            cells[cell["status"]] += 1
    return {
        "fields": len(fields), **{k: out[k] for k in ("cleared", "referred", "rejected", "all_like")},
        "errors": out["error"], "referred_reasons": dict(referred), "rejected_reasons": dict(rejected),
        "cells_found": sum(cells.values()), "cells": dict(cells),
    }  # fmt: skip


def classify(folder: Path, bundle: Path, site: Path | None) -> list[dict]:
    command = [*EDGE_ALL, "classify", str(folder), "--json", "--model", str(bundle)]
    if site is not None:
        command += ["--site", str(site)]
    done = subprocess.run(command, capture_output=True, text=True)
    name = "after" if site is not None else "before"
    (folder.parent / f"{folder.name}-{name}.jsonl").write_text(done.stdout, encoding="utf-8")  # kept
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def commission(fields: Path, site: Path, bundle: Path) -> tuple[subprocess.CompletedProcess, float]:
    """`edge-all commission` as a technician runs it, timed; what it printed is shown."""
    start = time.perf_counter()
    done = subprocess.run(
        [*EDGE_ALL, "commission", str(fields), "--out", str(site), "--model", str(bundle)],
        capture_output=True, text=True,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    print(done.stdout, done.stderr, sep="\n")
    return done, seconds


def overridden(site: Path, out: Path) -> Path:
    """A copy of a NOT READY profile marked ready (rewritten, with its sha256, by the product's writer),
    only so this measurement can read with what it measured: `--site` refuses the real one."""
    from dataclasses import replace

    from edge_all.site.profile import Verdict, read_profile, write_profile

    profile = read_profile(site)
    out.mkdir()
    note = "OVERRIDDEN for measurement: not ready (" + "; ".join(profile.verdict.reasons) + ")"
    write_profile(out, replace(profile, verdict=Verdict(True, (), (note,))))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fields", type=Path)
    parser.add_argument("bundle", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--parts", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    files = sorted(p for p in args.fields.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    commission_dir, read_dir = args.out / "commission", args.out / "read"
    for folder in (commission_dir, read_dir):
        folder.mkdir(parents=True, exist_ok=False)
    for i, path in enumerate(files):
        (commission_dir if i % 3 == 0 else read_dir).joinpath(path.name).symlink_to(path.resolve())
    site = args.out / "site"
    done, seconds = commission(commission_dir, site, args.bundle)
    profile = json.loads((site / "site.json").read_text(encoding="utf-8"))
    manifest = json.loads((args.bundle / "bundle.json").read_text(encoding="utf-8"))
    all_like = {label for label, role in manifest["label_roles"].items() if role == "all_like"}
    before = classify(read_dir, args.bundle, None)
    read_with = site if profile["verdict"]["ready"] else overridden(site, args.out / "site-overridden")
    after = classify(read_dir, args.bundle, read_with)
    parts = json.loads(args.parts.read_text()) if args.parts else {}
    held_out = {name for name, part in parts.items() if part == "test"} & {p.name for p in read_dir.iterdir()}
    result = {
        "command": " ".join(sys.argv),
        "machine": "2-core x86 AMD EPYC, shared, no GPU",
        "bundle_model_sha256": manifest["model_sha256"],
        "blasts_sha256": manifest.get("blasts_sha256"),
        "commission": {
            "fields": len(list(commission_dir.iterdir())), "seconds": round(seconds, 1),
            "exit_code": done.returncode, "verdict": profile["verdict"], "scale": profile["scale"],
            "after_read_with": "the profile" if read_with == site else "the profile, verdict overridden",
            "threshold": profile["threshold"],
        },
        "read": {
            "before": tally(before, all_like),
            "after": tally(after, all_like),
            "held_out_fields": len(held_out),
            "held_out_before": tally(before, all_like, held_out) if held_out else None,
            "held_out_after": tally(after, all_like, held_out) if held_out else None,
        },
    }  # fmt: skip
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
