"""Decide a run's split before anything heavy is imported, so data errors surface in a second."""

from __future__ import annotations

import sys

from training.config import TrainConfig
from training.dataset import DatasetError, Split, check_files_present, discover, make_split, read_split
from training.run_dir import SPLIT_FILE


def log(message: str) -> None:
    """Warnings and progress notes go to stderr, one line each; results go to stdout."""
    print(message, file=sys.stderr, flush=True)


def prepare_split(config: TrainConfig) -> Split:
    """Reuse a given split.json, or discover the dataset and split it once (stratified, seeded, leak-free);
    a cell run cuts its crops into the run dir first (training.cells_data)."""
    if config.task == "cells":
        from training.cells_data import build_cell_split

        split = build_cell_split(
            config.data, config.out, config.seed, config.test_fraction, config.val_fraction, log
        )
        counts = split.counts()
        log("cell split (per source): " + "; ".join(f"{p} {sum(counts[p].values())}" for p in counts))
        return split
    if config.split_file is not None:
        split = read_split(config.split_file, root=config.data)
        if split.include_segmented != config.include_segmented:
            made = "with" if split.include_segmented else "without"
            raise DatasetError(
                f"{config.split_file}: this split was made {made} Segmented training images; "
                "drop --split or match its --include-segmented"
            )
        check_files_present(split)
        return split
    log(f"reading every image under {config.data} once (decode check and sha256)...")
    dataset = discover(config.data, include_segmented=config.include_segmented)
    for folder in dataset.unknown_folders:
        log(f"warning: ignoring {folder}: not a class folder (classes: {', '.join(dataset.classes)})")
    for skipped in dataset.skipped:
        log(f"warning: skipping {skipped.file}: {skipped.reason}")
    split = make_split(
        dataset,
        test_fraction=config.test_fraction,
        val_fraction=config.val_fraction,
        seed=config.seed,
        include_segmented=config.include_segmented,
    )
    counts = split.counts()
    log(
        "split (image-level): "
        + "; ".join(f"{part} {sum(counts[part].values())}" for part in counts)
        + f"; {len(split.skipped)} skipped, {len(split.duplicates_dropped)} duplicates dropped"
    )
    for part in ("train", "val", "test"):
        missing = [c for c in split.classes if not any(r.label == c for r in split.part(part))]
        if missing:
            raise DatasetError(
                f"{config.data}: too few images to split: no {', '.join(missing)} image in the {part} part"
            )
    return split


def split_to_resume(config: TrainConfig) -> Split | None:
    """The split an unfinished run in `config.out` was started with (None when it holds none yet)."""
    path = config.out / SPLIT_FILE
    if not path.is_file():
        return None
    if config.task == "cells":
        from training.cells_data import CROPS_DIR

        split = read_split(path, root=config.out / CROPS_DIR)
    else:
        split = read_split(path, root=config.data)
    check_files_present(split)
    return split
