"""Does the model judge the white cell, or the slide around it? The test images with their neighbours erased.

    python -m benchmarks.cell_only --run runs/clinic-v1 --bundle BUNDLE [--margin 12]

The public dataset's Segmented copy of each image shows the white cell's pixels on black (with
scattered specks, removed by a median filter). Here each
test image keeps its Original pixels within `--margin` pixels of that cell and has everything else
(red cells, platelets, plasma, the scale bar) painted in the image's own plasma colour (the median
of its brightest tenth), so the cell sits, unchanged, on a clean background. The bundle classifies
the test images as they are and as the cell alone; a model that reads the cell keeps its accuracy, one
that reads the slide around it loses it. Referral is reported too: the cell alone is an unfamiliar
image, and the device should say so rather than guess.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from convert.device_fit import part_images
from edge_all.runtime.classifier import Classifier
from training.dataset import read_split

FOREGROUND = 40  # a Segmented pixel brighter than this in any channel belongs to the cell


def cell_only(original: np.ndarray, segmented: np.ndarray, margin: int) -> np.ndarray:
    """`original` with everything farther than `margin` pixels from the segmented cell painted plasma."""
    mask = Image.fromarray(((segmented.max(axis=2) > FOREGROUND) * 255).astype(np.uint8))
    mask = mask.filter(ImageFilter.MedianFilter(7))  # the Segmented copies carry scattered specks
    near = np.asarray(mask.filter(ImageFilter.MaxFilter(2 * margin + 1))) > 0
    brightness = original.sum(axis=2)
    plasma = np.median(original[brightness >= np.quantile(brightness, 0.9)], axis=0)
    return np.where(near[..., None], original, plasma.astype(np.uint8))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--run", required=True)
    parser.add_argument("--bundle", required=True)
    parser.add_argument("--margin", type=int, default=12)
    parser.add_argument("--save", type=Path, help="write the first few cell-only images here")
    args = parser.parse_args()
    classifier = Classifier.load(args.bundle)
    split = read_split(f"{args.run}/split.json")
    size = classifier.input_size[0]
    test = part_images(split, "test", size)
    altered = []
    for record, pixels in zip(split.part("test"), test.pixels, strict=True):
        segmented_file = split.root / record.file.replace("Original/", "Segmented/", 1)
        segmented = np.asarray(Image.open(segmented_file).convert("RGB").resize((size, size)))
        altered.append(cell_only(pixels, segmented, args.margin))
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
        for i, image in enumerate(altered[:: max(len(altered) // 8, 1)][:8]):
            Image.fromarray(image).save(args.save / f"cell-only-{i}.png")
    benign = classifier.labels.index("Benign")
    malignant = test.labels != benign
    print(f"{len(test.labels)} test images; cells kept with a margin of {args.margin} px")
    print("| images | accuracy (best guess) | malignant called Benign | referred | classified |")
    print("|---|---:|---:|---:|---:|")
    for name, images in (("as they are", test.pixels), ("the cell alone", np.stack(altered))):
        predictions = [classifier.predict_pixels(x) for x in images]
        top = np.array([p.index for p in predictions])
        referred = np.array([p.referred for p in predictions])
        missed = f"{int(np.sum(malignant & (top == benign)))}/{int(np.sum(malignant))}"
        kept = ~referred
        right = "-"
        if kept.any():
            right = f"{np.mean(top[kept] == test.labels[kept]):.1%} right of {int(kept.sum())}"
        accuracy = np.mean(top == test.labels)
        print(f"| {name} | {accuracy:.1%} | {missed} | {referred.mean():.1%} | {right} |")


if __name__ == "__main__":
    main()
