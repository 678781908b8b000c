"""Which unfamiliarity score tells the training distribution from other laboratories best, measured.

    python -m benchmarks.referral_methods --run runs/clinic-v1 --bundle BUNDLE \
        --ood ../shared/data/ood-dev/zheng2018_wbc/tecom_dataset1 \
        --ood ../shared/data/ood-dev/zheng2018_wbc/cellavision_blog_dataset2

Features, logits and probabilities come from the bundle's own converted model (through the device
runtime), for the run's training, validation and test images and for every image under each --ood
folder (one outside source each). Each method is fitted on the training images only; its threshold
refers 3% of the validation images; the table reports the AUROC (test images against each source)
and how many images of each set the threshold refers. The shipped detector is `mahalanobis-pca128`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np

from convert.device_fit import auroc, part_images
from edge_all.runtime.classifier import Classifier
from edge_all.runtime.images import ImageError
from edge_all.runtime.inputs import expand_inputs
from edge_all.runtime.referral import ReferralDetector
from edge_all.runtime.tensors import softmax
from training.dataset import read_split

RATE = 0.03


def outputs(classifier: Classifier, pixels: np.ndarray) -> dict[str, np.ndarray]:
    rows = [classifier.raw_outputs(x) for x in pixels]
    return {role: np.stack([r[role] for r in rows]) for role in ("scores", "features")}


def folder_outputs(classifier: Classifier, folder: str) -> dict[str, np.ndarray]:
    pixels = []
    for path in expand_inputs([folder]).files:
        try:
            pixels.append(classifier.prepare(path))
        except ImageError:
            continue
    return outputs(classifier, np.stack(pixels))


def knn(train: np.ndarray, k: int) -> Callable[[np.ndarray], np.ndarray]:
    unit = train / np.linalg.norm(train, axis=1, keepdims=True)
    return lambda x: -np.sort((x / np.linalg.norm(x, axis=1, keepdims=True)) @ unit.T, axis=1)[:, -k]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--run", required=True)
    parser.add_argument("--bundle", required=True)
    parser.add_argument("--ood", action="append", required=True, help="a folder of one outside source")
    args = parser.parse_args()
    classifier = Classifier.load(args.bundle)
    split = read_split(f"{args.run}/split.json")
    size = classifier.input_size[0]
    train, val, test = (part_images(split, part, size) for part in ("train", "val", "test"))
    sets = {"train": outputs(classifier, train.pixels), "val": outputs(classifier, val.pixels)}
    sets["test"] = outputs(classifier, test.pixels)
    for folder in args.ood:
        sets[f"ood:{Path(folder).name}"] = folder_outputs(classifier, folder)
    temperature = classifier.manifest.calibration.temperature if classifier.manifest.calibration else 1.0
    methods: dict[str, Callable[[dict[str, np.ndarray]], np.ndarray]] = {
        "max softmax (1 - confidence)": lambda o: 1 - softmax(o["scores"] / temperature).max(axis=1),
        "energy (-logsumexp of logits)": lambda o: -np.log(np.exp(o["scores"]).sum(axis=1)),
    }
    for dims in (32, 64, 128, 256):
        detector = ReferralDetector.fit(sets["train"]["features"], train.labels, dims)
        methods[f"mahalanobis-pca{dims}"] = lambda o, d=detector: d.distances(o["features"])
    detector = ReferralDetector.fit(sets["train"]["features"], train.labels, 4096, shrinkage=0.01)
    methods["mahalanobis (all components)"] = lambda o, d=detector: d.distances(o["features"])
    for k in (1, 10):
        nearest = knn(sets["train"]["features"], k)
        methods[f"knn-cosine k={k}"] = lambda o, f=nearest: f(o["features"])
    outside = [name for name in sets if name.startswith("ood:")]
    header = "| method | " + " | ".join(f"AUROC {n[4:]}" for n in outside) + " | referred: test | "
    header += " | ".join(f"referred: {n[4:]}" for n in outside) + " |"
    print(
        f"Threshold: refers {RATE:.0%} of {len(val.labels)} validation images; "
        f"{len(test.labels)} test images.\n"
    )
    print(header)
    print("|---" * (2 + 2 * len(outside)) + "|")
    for name, score in methods.items():
        scores = {s: score(o) for s, o in sets.items()}
        threshold = np.quantile(scores["val"], 1 - RATE)
        cells = [f"{auroc(scores['test'], scores[n]):.3f}" for n in outside]
        cells += [f"{np.mean(scores['test'] > threshold):.1%}"]
        cells += [f"{np.mean(scores[n] > threshold):.1%}" for n in outside]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
