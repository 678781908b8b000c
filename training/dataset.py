"""Find the images of a dataset folder and split them once, without leaks.

The public ALL dataset has byte-identical files and an Original and a Segmented copy of every
specimen. A copy on both sides of a split lets a model score by memory, so every group of
duplicates and copies falls wholly into one part. The split is written to split.json and every
later step (evaluation, calibration, the accuracy gate, benchmarks) reuses that exact file.
"""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from edge_all.digest import sha256_file
from edge_all.errors import EdgeAllError
from edge_all.runtime.images import IMAGE_SUFFIXES, ImageError, open_image

CLASSES = ("Benign", "Early", "Pre", "Pro")
PARTS = ("train", "val", "test")
# A file at a dataset's root that says its images are made up (training.demo_data writes it): a
# bundle trained on them records it, and the device warns whenever such a bundle is used.
SYNTHETIC_MARKER = "SYNTHETIC-DEMO-DATA.txt"
SPLIT_VERSION = 1


class DatasetError(EdgeAllError):
    """A dataset folder that cannot be trained or evaluated on."""


@dataclass(frozen=True)
class ImageRecord:
    """One image file; `file` is relative to the dataset root, `group` ties copies together."""

    file: str
    label: str
    sha256: str
    variant: str  # "original", "segmented" or "plain" (a folder of class folders)
    part: str = ""
    group: str = ""


@dataclass(frozen=True)
class Skipped:
    file: str
    reason: str


@dataclass
class Dataset:
    """What discovery found: readable images, plus everything it set aside and why."""

    root: Path
    classes: tuple[str, ...]
    images: list[ImageRecord]
    skipped: list[Skipped] = field(default_factory=list)
    unknown_folders: list[str] = field(default_factory=list)


@dataclass
class Split:
    """A dataset's images, each assigned to train, val or test."""

    root: Path
    classes: tuple[str, ...]
    images: list[ImageRecord]
    seed: int
    test_fraction: float
    val_fraction: float
    include_segmented: bool
    skipped: list[Skipped] = field(default_factory=list)
    unknown_folders: list[str] = field(default_factory=list)
    duplicates_dropped: list[str] = field(default_factory=list)

    def part(self, name: str) -> list[ImageRecord]:
        return [record for record in self.images if record.part == name]

    def path(self, record: ImageRecord) -> Path:
        return self.root / record.file

    def counts(self) -> dict[str, dict[str, int]]:
        """Images per part per class, for reports."""
        return {p: dict(Counter(r.label for r in self.part(p))) for p in PARTS}


def _class_folders(folder: Path, warn: list[str]) -> dict[str, Path]:
    """Map canonical class names to sub-folders, matching names case-insensitively."""
    found: dict[str, Path] = {}
    canonical = {name.lower(): name for name in CLASSES}
    for child in sorted(p for p in folder.iterdir() if p.is_dir()):
        name = canonical.get(child.name.lower())
        if name is None:
            warn.append(str(child))
        elif name in found:
            raise DatasetError(f"{folder}: two folders for class {name} ({found[name].name}, {child.name})")
        else:
            found[name] = child
    return found


def discover(root: str | Path, include_segmented: bool = True) -> Dataset:
    """Find every class image under ROOT (Kaggle layout or a folder of class folders).

    Every image is decoded once here, so a corrupt file is reported now, by name, rather than
    crashing an epoch later.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: dataset folder not found")
    unknown: list[str] = []
    subdirs = {p.name.lower(): p for p in root.iterdir() if p.is_dir()}
    if "original" in subdirs:
        layouts = [("original", subdirs["original"])]
        if "segmented" in subdirs and include_segmented:
            layouts.append(("segmented", subdirs["segmented"]))
        unknown += [str(p) for name, p in subdirs.items() if name not in ("original", "segmented")]
    else:
        layouts = [("plain", root)]

    images: list[ImageRecord] = []
    skipped: list[Skipped] = []
    for variant, folder in layouts:
        classes = _class_folders(folder, unknown)
        if variant != "segmented":
            missing = [name for name in CLASSES if name not in classes]
            if missing:
                raise DatasetError(
                    f"{folder}: no folder for class(es) {', '.join(missing)} (expected {', '.join(CLASSES)})"
                )
        for label, class_dir in classes.items():
            files = sorted(p for p in class_dir.rglob("*") if p.is_file() and not p.name.startswith("."))
            usable = 0
            for path in files:
                rel = path.relative_to(root).as_posix()
                if path.suffix.lower() not in IMAGE_SUFFIXES:
                    skipped.append(Skipped(rel, f"not an image file name ({path.suffix or 'no suffix'})"))
                    continue
                try:
                    open_image(path)
                except ImageError as exc:
                    skipped.append(Skipped(rel, str(exc).removeprefix(f"{path}: ")))
                    continue
                images.append(ImageRecord(rel, label, sha256_file(path), variant))
                usable += 1
            if usable == 0 and variant != "segmented":
                raise DatasetError(f"{class_dir}: class folder {label} has no readable images")
    if not images:
        raise DatasetError(f"{root}: no images found")
    return Dataset(root=root, classes=CLASSES, images=images, skipped=skipped, unknown_folders=unknown)


def unique_images(images: list[ImageRecord]) -> list[ImageRecord]:
    """One record per distinct file content (byte-identical copies would count twice)."""
    seen: set[str] = set()
    unique = []
    for record in sorted(images, key=lambda r: r.file):
        if record.sha256 not in seen:
            seen.add(record.sha256)
            unique.append(replace(record, part="all"))
    return unique


def _specimen_key(record: ImageRecord) -> str:
    """Original/Segmented copies share class folder and file stem."""
    return f"{record.label}/{Path(record.file).stem.lower()}"


def _group_images(images: list[ImageRecord]) -> dict[int, int]:
    """Union-find over identical bytes and specimen copies: image index -> group root."""
    parent = list(range(len(images)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_seen: dict[str, int] = {}
    for i, record in enumerate(images):
        for key in (f"sha:{record.sha256}", f"specimen:{_specimen_key(record)}"):
            j = first_seen.setdefault(key, i)
            parent[find(i)] = find(j)
    return {i: find(i) for i in range(len(images))}


def make_split(
    dataset: Dataset,
    test_fraction: float = 0.2,
    val_fraction: float = 0.1,
    seed: int = 0,
    include_segmented: bool = False,
) -> Split:
    """Assign whole groups to test, val and train, stratified by class and seeded.

    Fractions are of each class's original images. Exact duplicates keep one file (the first by
    name); the others are recorded in `duplicates_dropped`. Segmented images are used only in
    training, and only with `include_segmented`.
    """
    if not 0 < test_fraction < 1 or not 0 <= val_fraction < 1 or test_fraction + val_fraction >= 1:
        raise DatasetError("test and validation fractions must be in (0, 1) and sum to less than 1")
    images = dataset.images
    roots = _group_images(images)
    members: dict[int, list[int]] = defaultdict(list)
    for i, group_root in roots.items():
        members[group_root].append(i)

    skipped = list(dataset.skipped)
    by_class: dict[str, list[int]] = defaultdict(list)
    for group_root, idx in members.items():
        labels = {images[i].label for i in idx}
        if len(labels) > 1:
            skipped += [
                Skipped(images[i].file, f"identical to a file in another class ({sorted(labels)})")
                for i in idx
            ]
            continue
        by_class[labels.pop()].append(group_root)

    rng = random.Random(seed)
    part_of_group: dict[int, str] = {}
    for label in sorted(by_class):
        groups = sorted(by_class[label], key=lambda g: images[g].file)
        rng.shuffle(groups)
        originals = lambda g: sum(images[i].variant != "segmented" for i in members[g])  # noqa: E731
        total = sum(originals(g) for g in groups)
        test_target, val_target = round(total * test_fraction), round(total * val_fraction)
        taken = {"test": 0, "val": 0}
        for g in groups:
            if taken["test"] < test_target:
                part = "test"
            elif taken["val"] < val_target:
                part = "val"
            else:
                part = "train"
            part_of_group[g] = part
            if part != "train":
                taken[part] += originals(g)

    records: list[ImageRecord] = []
    seen: set[str] = set()
    dropped: list[str] = []
    for i, record in sorted(enumerate(images), key=lambda item: item[1].file):
        part = part_of_group.get(roots[i])
        if part is None:
            continue
        if record.variant == "segmented" and not (include_segmented and part == "train"):
            continue
        if record.sha256 in seen:
            dropped.append(record.file)
            continue
        seen.add(record.sha256)
        records.append(
            ImageRecord(record.file, record.label, record.sha256, record.variant, part, f"g{roots[i]}")
        )
    return Split(
        root=dataset.root,
        classes=dataset.classes,
        images=records,
        seed=seed,
        test_fraction=test_fraction,
        val_fraction=val_fraction,
        include_segmented=include_segmented,
        skipped=skipped,
        unknown_folders=list(dataset.unknown_folders),
        duplicates_dropped=dropped,
    )


def write_split(split: Split, path: str | Path) -> None:
    data = {
        "version": SPLIT_VERSION,
        "root": str(split.root.resolve()),
        "classes": list(split.classes),
        "seed": split.seed,
        "test_fraction": split.test_fraction,
        "val_fraction": split.val_fraction,
        "include_segmented": split.include_segmented,
        "counts": split.counts(),
        "images": [asdict(r) for r in split.images],
        "skipped": [asdict(s) for s in split.skipped],
        "unknown_folders": split.unknown_folders,
        "duplicates_dropped": split.duplicates_dropped,
    }
    Path(path).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def read_split(path: str | Path, root: str | Path | None = None) -> Split:
    """Read split.json; `root` overrides the recorded dataset folder (e.g. after moving it)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: split file not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") != SPLIT_VERSION:
            raise DatasetError(f"{path}: unsupported split version {data.get('version')!r}")
        return Split(
            root=Path(root) if root is not None else Path(data["root"]),
            classes=tuple(data["classes"]),
            images=[ImageRecord(**r) for r in data["images"]],
            seed=int(data["seed"]),
            test_fraction=float(data["test_fraction"]),
            val_fraction=float(data["val_fraction"]),
            include_segmented=bool(data["include_segmented"]),
            skipped=[Skipped(**s) for s in data.get("skipped", [])],
            unknown_folders=list(data.get("unknown_folders", [])),
            duplicates_dropped=list(data.get("duplicates_dropped", [])),
        )
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise DatasetError(f"{path}: malformed split file ({exc!r})") from None


def check_files_present(split: Split, parts: tuple[str, ...] = PARTS) -> None:
    """Fail early, naming the first missing file, when the split's images have moved or gone."""
    missing = [r.file for r in split.images if r.part in parts and not split.path(r).is_file()]
    if missing:
        raise DatasetError(
            f"{split.root}: {len(missing)} image(s) of the split are missing, e.g. {missing[0]} "
            "(restore the dataset there, or train again on its new location)"
        )


def is_synthetic(root: str | Path) -> bool:
    """Whether the dataset at `root` says its images are synthetic (see SYNTHETIC_MARKER)."""
    return (Path(root) / SYNTHETIC_MARKER).is_file()
