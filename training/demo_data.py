"""A small synthetic smear dataset in the Kaggle layout, for the demo and the tests.

Each class really shows in the pixels (nucleus size, shape and stain), so a small model can
learn it, and the folder carries the quirks of the public dataset that a loader must survive:
byte-identical duplicates, a Segmented copy of every specimen, a truncated file, a grayscale
image, an RGBA PNG and an odd-sized image.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from training.dataset import CLASSES, SYNTHETIC_MARKER

# (nucleus radius as a fraction of the image, RGB stain, lobes)
_CLASS_LOOKS = {
    "Benign": (0.10, (70, 30, 110), 1),
    "Early": (0.21, (60, 60, 170), 1),
    "Pre": (0.17, (150, 40, 140), 2),
    "Pro": (0.22, (110, 70, 160), 3),
}


@dataclass(frozen=True)
class DemoDataset:
    root: Path
    per_class: int
    quirk_files: dict[str, str]  # quirk name -> file relative to root


def draw_smear(label: str, rng: np.random.Generator, size: int = 224) -> tuple[np.ndarray, np.ndarray]:
    """Return (RGB image, cell mask) of one synthetic white blood cell among red cells."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    image = np.empty((size, size, 3), np.float32)
    image[:] = (235, 200, 205)
    for _ in range(rng.integers(6, 12)):  # red blood cells
        cy, cx, r = rng.uniform(0, size), rng.uniform(0, size), rng.uniform(0.06, 0.09) * size
        disk = (yy - cy) ** 2 + (xx - cx) ** 2 < r**2
        image[disk] = (215, 140, 150)
    radius, stain, lobes = _CLASS_LOOKS[label]
    cy, cx = size / 2 + rng.uniform(-0.08, 0.08, 2) * size
    r = radius * size * rng.uniform(0.9, 1.1)
    cyto = (yy - cy) ** 2 + (xx - cx) ** 2 < (r * 1.35) ** 2
    image[cyto] = (200, 185, 225)
    nucleus = np.zeros((size, size), bool)
    angle0 = rng.uniform(0, 2 * np.pi)
    for k in range(lobes):
        offset = 0 if lobes == 1 else r * 0.45
        ay = cy + offset * np.sin(angle0 + 2 * np.pi * k / lobes)
        ax = cx + offset * np.cos(angle0 + 2 * np.pi * k / lobes)
        lobe_r = r if lobes == 1 else r * 0.65
        nucleus |= (yy - ay) ** 2 + (xx - ax) ** 2 < lobe_r**2
    image[nucleus] = stain
    image += rng.normal(0, 8, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8), cyto


def make_demo_dataset(
    root: str | Path, per_class: int = 40, seed: int = 0, quirks: bool = True
) -> DemoDataset:
    """Write `per_class` Original images (and their Segmented copies) for each class under ROOT."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    (root / SYNTHETIC_MARKER).write_text(
        "Synthetic smears made by training/demo_data.py: they teach nothing about real blood.\n",
        encoding="utf-8",
    )
    for label in CLASSES:
        for variant in ("Original", "Segmented"):
            (root / variant / label).mkdir(parents=True, exist_ok=True)
        kind = "Benign" if label == "Benign" else f"Malignant-{label}"
        for i in range(1, per_class + 1):
            rgb, mask = draw_smear(label, rng)
            name = f"WBC-{kind}-{i:03d}.jpg"
            Image.fromarray(rgb).save(root / "Original" / label / name, quality=92)
            segmented = np.where(mask[:, :, None], rgb, 0).astype(np.uint8)
            Image.fromarray(segmented).save(root / "Segmented" / label / name, quality=92)

    quirk_files: dict[str, str] = {}
    if quirks:
        pro = root / "Original" / "Pro"
        shutil.copyfile(pro / "WBC-Malignant-Pro-001.jpg", pro / "WBC-Malignant-Pro-900.jpg")
        quirk_files["duplicate"] = "Original/Pro/WBC-Malignant-Pro-900.jpg"
        data = (pro / "WBC-Malignant-Pro-002.jpg").read_bytes()
        (pro / "WBC-Malignant-Pro-901.jpg").write_bytes(data[: len(data) // 3])
        quirk_files["truncated"] = "Original/Pro/WBC-Malignant-Pro-901.jpg"
        benign = root / "Original" / "Benign"
        rgb, _ = draw_smear("Benign", rng)
        Image.fromarray(rgb).convert("L").save(benign / "WBC-Benign-900.jpg")
        quirk_files["grayscale"] = "Original/Benign/WBC-Benign-900.jpg"
        rgb, _ = draw_smear("Early", rng)
        Image.fromarray(rgb).convert("RGBA").save(root / "Original" / "Early" / "WBC-Malignant-Early-900.png")
        quirk_files["rgba"] = "Original/Early/WBC-Malignant-Early-900.png"
        rgb, _ = draw_smear("Pre", rng, size=300)
        Image.fromarray(rgb).save(root / "Original" / "Pre" / "WBC-Malignant-Pre-900.jpg")
        quirk_files["odd_size"] = "Original/Pre/WBC-Malignant-Pre-900.jpg"
    return DemoDataset(root=root, per_class=per_class, quirk_files=quirk_files)


if __name__ == "__main__":
    import sys

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "demo/data")
    made = make_demo_dataset(out, per_class=int(sys.argv[2]) if len(sys.argv) > 2 else 40)
    print(f"wrote a synthetic dataset to {made.root} ({made.per_class} images per class, plus quirks)")
