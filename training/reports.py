"""What a run tells its reader: metrics.json for machines, report.txt and plots for people.

Medical honesty: the split is image-level (the public data has no patient ids), so the numbers
overstate how the model does on new patients; every report says so.
"""

from __future__ import annotations

from pathlib import Path

from training.config import TrainConfig
from training.dataset import Skipped, Split
from training.loading import PREPROCESSING
from training.metrics import format_confusion, format_report
from training.plots import plot_confusion, plot_history, plot_robustness
from training.robustness import BATTERY_VERSION, ConditionResult
from training.robustness import format_table as format_robustness
from training.robustness import to_json as robustness_json
from training.run_dir import (
    CONFUSION_PLOT,
    CURVES_PLOT,
    HISTORY_FILE,
    METRICS_FILE,
    REPORT_FILE,
    ROBUSTNESS_PLOT,
    RunInfo,
    write_config,
    write_json,
)

IMAGE_LEVEL_WARNING = (
    "The split is image-level: the public dataset has no patient ids, so images of one patient can be "
    "on both sides of it. These numbers overstate accuracy on new patients; they are not a clinical "
    "validation."
)
PART_TITLES = {"train": "train", "val": "validation", "test": "test (held out)", "all": "all images"}


def write_run_files(
    run_dir: Path,
    config: TrainConfig,
    split: Split,
    metrics: dict[str, dict],
    robustness: list[ConditionResult],
    history: dict,
    info: dict,
    skipped: list[Skipped],
) -> None:
    """config.json, history.json, metrics.json, report.txt and the three plots (split.json and
    model.keras are written as training goes)."""
    run_info = RunInfo(split.classes, config.image_size, config.backbone, PREPROCESSING.to_dict())
    write_config(
        run_dir, run_info, config.to_dict(), {"augmentation": config.augment_policy.describe(), **info}
    )
    write_json(run_dir / HISTORY_FILE, history)
    doc = {
        **metrics,
        "note": IMAGE_LEVEL_WARNING,
        "counts": split.counts(),
        "skipped": [{"file": s.file, "reason": s.reason} for s in skipped],
        "duplicates_dropped": split.duplicates_dropped,
        "robustness": robustness_json(robustness),
        **info,
    }
    write_json(run_dir / METRICS_FILE, doc)
    (run_dir / REPORT_FILE).write_text(
        format_run_report(split, metrics, robustness, info, config, skipped), encoding="utf-8"
    )
    plot_confusion(metrics["test"], run_dir / CONFUSION_PLOT, f"{config.backbone}: test split (image-level)")
    plot_history(history, run_dir / CURVES_PLOT)
    plot_robustness(robustness, run_dir / ROBUSTNESS_PLOT, f"{config.backbone}: test split under the battery")


def format_parts(metrics: dict[str, dict]) -> str:
    blocks = []
    for part, m in metrics.items():
        title = PART_TITLES.get(part, part)
        blocks.append(f"== {title}: {m['count']} images ==\n{format_report(m)}")
        blocks[-1] += f"\n\nconfusion matrix (rows true, columns predicted):\n{format_confusion(m)}"
    return "\n\n".join(blocks)


def format_run_report(
    split: Split,
    metrics: dict,
    robustness: list[ConditionResult],
    info: dict,
    config: TrainConfig,
    skipped: list[Skipped],
) -> str:
    machine = info["machine"]
    lines = [
        f"edge-all training run: {config.backbone} (head {config.head}, weights {config.weights}), "
        f"{config.image_size}x{config.image_size} pixels",
        f"data: {split.root.resolve()}  (seed {split.seed}, test {split.test_fraction:.0%}, "
        f"val {split.val_fraction:.0%}, "
        f"segmented in training: {'yes' if split.include_segmented else 'no'}, augmentation: "
        f"{config.augment} v{config.augment_policy.version})",
        f"best epoch {info['best_epoch']} of {info['epochs_run']} (val_loss {info['best_val_loss']:.4f}); "
        f"training took {info['fit_seconds']:.1f} s, the whole run {info['wall_seconds']:.1f} s on "
        f"{machine['platform']} ({machine['cpu_count']} CPUs, "
        f"Keras {machine['keras']} on {machine['keras_backend']})",
        f"parameters: {info['parameters']['total']:,} ({info['parameters']['base']:,} backbone, "
        f"{info['parameters']['head']:,} head; backbone {'frozen' if config.frozen_base else 'trained'}"
        f"{f', top {config.fine_tune_layers} layers fine-tuned' if config.fine_tune_epochs else ''})",
        "",
        "NOTE: " + IMAGE_LEVEL_WARNING,
        "",
        "images per part and class: "
        + "; ".join(
            f"{p} " + ", ".join(f"{c} {n}" for c, n in sorted(counts.items()))
            for p, counts in split.counts().items()
        ),
        "",
        format_parts(metrics),
        "",
        f"== robustness: the test split under the battery (version {BATTERY_VERSION}) ==",
        format_robustness(robustness, split.classes),
        "",
        f"skipped files ({len(skipped)}):",
        *([f"  {s.file}: {s.reason}" for s in skipped] or ["  none"]),
        f"dropped duplicates (byte-identical to a kept file) ({len(split.duplicates_dropped)}):",
        *([f"  {f}" for f in split.duplicates_dropped] or ["  none"]),
    ]
    if split.unknown_folders:
        lines += [
            f"ignored folders ({len(split.unknown_folders)}):",
            *(f"  {f}" for f in split.unknown_folders),
        ]
    return "\n".join(lines) + "\n"


def print_summary(metrics: dict[str, dict], info: dict) -> None:
    """The final table on the console: accuracy and per-class recall for each part."""
    classes = next(iter(metrics.values()))["classes"]
    header = f"{'part':<6} {'images':>6} {'accuracy':>8} {'macro F1':>8}  " + " ".join(
        f"{'recall ' + c:>13}" for c in classes
    )
    print()
    print(header)
    for part, m in metrics.items():
        recalls = " ".join(f"{m['per_class'][c]['recall']:>13.3f}" for c in classes)
        print(f"{part:<6} {m['count']:>6} {m['accuracy']:>8.3f} {m['macro_avg']['f1']:>8.3f}  {recalls}")
    print(f"best epoch {info['best_epoch']} of {info['epochs_run']}; training {info['fit_seconds']:.1f} s")
    print("NOTE: " + IMAGE_LEVEL_WARNING)
