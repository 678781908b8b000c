"""Issue 23's second target: the home lab, commissioned from 50 of its own training fields, keeps its
held-out results.

    python benchmarks/commission_home.py ../shared/data/ALL BUNDLE OUT_DIR [--per-class 60] \
        [--json benchmarks/results/commission_home.json]

training.dataset's seeded split of the ALL dataset (test 20%, validation 10%, seed 0: the cell model's
own); 50 seeded training fields commission (`edge-all commission`), and `--per-class` seeded test fields
of each class are read with `edge-all classify --json --model BUNDLE`, without and with `--site` (a site
that is NOT READY is read through a copy marked ready, as benchmarks/commission_chula.py does, and said
so). Per class: the fields ALL-like, referred, cleared, rejected; a blast field is "flagged" when
ALL-like or referred, a Benign one "cleared" when cleared.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from benchmarks.commission_chula import classify, commission, overridden, tally
from training.dataset import discover, make_split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("bundle", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--per-class", type=int, default=60)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    split = make_split(discover(args.data, include_segmented=True), 0.2, 0.1, 0, include_segmented=False)
    rng = np.random.default_rng(0)
    train = split.part("train")
    commission_dir = args.out / "commission"
    commission_dir.mkdir(parents=True)
    for i in rng.choice(len(train), 50, replace=False):
        path = split.path(train[i])
        commission_dir.joinpath(f"{train[i].label}-{path.name}").symlink_to(path.resolve())
    reads: dict[str, set[str]] = {}
    for label in split.classes:
        folder = args.out / "read" / label
        folder.mkdir(parents=True)
        test = [r for r in split.part("test") if r.label == label]
        for i in rng.choice(len(test), min(args.per_class, len(test)), replace=False):
            folder.joinpath(split.path(test[i]).name).symlink_to(split.path(test[i]).resolve())
        reads[label] = {p.name for p in folder.iterdir()}
    site = args.out / "site"
    done, seconds = commission(commission_dir, site, args.bundle)
    if not (site / "site.json").is_file():
        raise SystemExit("commissioning refused: no profile")
    profile = json.loads((site / "site.json").read_text(encoding="utf-8"))
    manifest = json.loads((args.bundle / "bundle.json").read_text(encoding="utf-8"))
    all_like = {label for label, role in manifest["label_roles"].items() if role == "all_like"}
    read_with = site if profile["verdict"]["ready"] else overridden(site, args.out / "site-overridden")
    result = {
        "command": " ".join(sys.argv),
        "machine": "2-core x86 AMD EPYC, shared, no GPU",
        "bundle_model_sha256": manifest["model_sha256"],
        "commission": {
            "fields": 50, "seconds": round(seconds, 1), "exit_code": done.returncode,
            "verdict": profile["verdict"], "scale": profile["scale"], "threshold": profile["threshold"],
            "after_read_with": "the profile" if read_with == site else "the profile, verdict overridden",
        },
        "read": {},
    }  # fmt: skip
    for label, names in reads.items():
        folder = args.out / "read" / label
        before, after = classify(folder, args.bundle, None), classify(folder, args.bundle, read_with)
        result["read"][label] = {
            "before": tally(before, all_like, names),
            "after": tally(after, all_like, names),
        }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
