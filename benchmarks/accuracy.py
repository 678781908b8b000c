"""Float vs int8 accuracy, per class, as markdown: train (or take a run dir), convert, compare.

    python -m benchmarks.accuracy --data ../shared/data/ALL --backbone mobilenetv2 \\
        --weights ../shared/weights/mobilenet_v2_1.0_224_imagenet_notop.weights.h5 --epochs 10
    python -m benchmarks.accuracy --run runs/mobilenetv2            # an existing run dir
    python -m benchmarks.accuracy --run RUN --eval-data HELD_OUT/  # score on another labelled folder

The comparison is convert's own accuracy check (`convert.convert.convert_run`): the float Keras model
and the int8 TFLite model, run through the device runtime, on the same images (the run's test split
unless --eval-data). The table is written even when the int8 model fails the gate, because that is
exactly when it matters. Per-class recall and the confusion matrices are shown, not only accuracy.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

CAVEAT = (
    "Image-level split: the public ALL dataset has no patient ids, so these numbers overstate how "
    "the model does on new patients' slides. A screening aid, not a diagnosis."
)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _pp(before: float | None, after: float | None) -> str:
    return "" if before is None or after is None else f"{100 * (after - before):+.1f} pp"


def _precision(confusion: list[list[int]], index: int) -> float | None:
    predicted = sum(row[index] for row in confusion)
    return None if predicted == 0 else confusion[index][index] / predicted


def _confusion_table(labels: list[str], confusion: list[list[int]]) -> str:
    lines = ["| true \\ predicted | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    for label, row in zip(labels, confusion, strict=True):
        lines.append(f"| {label} | " + " | ".join(str(n) for n in row) + " |")
    return "\n".join(lines)


def format_markdown(report: dict[str, Any], title: str, provenance: list[str]) -> str:
    """Convert's accuracy report (AccuracyReport.to_dict()) as a markdown section."""
    labels = report["labels"]
    float_model, converted = report["float_model"], report["converted"]
    conversion = report.get("conversion", {})
    rows = [
        "| | " + f"{float_model['name']} | {converted['name']} | change |",
        "|---|---|---|---|",
        f"| accuracy | {_pct(float_model['accuracy'])} | {_pct(converted['accuracy'])} | "
        f"{_pp(float_model['accuracy'], converted['accuracy'])} |",
    ]
    for label in labels:
        before, after = float_model["per_class_recall"][label], converted["per_class_recall"][label]
        rows.append(
            f"| recall {label} (n={report['support'][label]}) | {_pct(before)} | {_pct(after)} | "
            f"{_pp(before, after)} |"
        )
    for i, label in enumerate(labels):
        before, after = _precision(float_model["confusion"], i), _precision(converted["confusion"], i)
        rows.append(f"| precision {label} | {_pct(before)} | {_pct(after)} | {_pp(before, after)} |")
    if conversion.get("model_bytes"):
        rows.append(
            f"| model file | {conversion['float_model_bytes'] / 2**20:.2f} MiB (float32 TFLite) | "
            f"{conversion['model_bytes'] / 2**20:.2f} MiB | "
            f"{100 * conversion['model_bytes'] / conversion['float_model_bytes']:.0f} % |"
        )
    verdict = "passed" if report["passed"] else "FAILED"
    parts = [
        f"## {title}",
        "\n".join(f"- {line}" for line in provenance),
        "\n".join(rows),
        f"Top-1 agreement between the two models: {_pct(report['top1_agreement'])}; mean absolute "
        f"probability difference {report['mean_abs_prob_diff']:.4f}. Accuracy gate {verdict}: drop "
        f"{report['drop_pp']:.1f} pp, {report['max_drop_pp']:g} pp allowed.",
        f"Confusion matrix, {float_model['name']}:\n\n" + _confusion_table(labels, float_model["confusion"]),
        f"Confusion matrix, {converted['name']}:\n\n" + _confusion_table(labels, converted["confusion"]),
    ]
    if report.get("skipped"):
        parts.append(f"{len(report['skipped'])} image(s) could not be read and were left out.")
    parts.append(f"> {CAVEAT}")
    return "\n\n".join(parts) + "\n"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.accuracy", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--data", type=Path, help="dataset folder (Kaggle layout) to train on")
    parser.add_argument("--run", type=Path, help="an existing run dir (skips training)")
    parser.add_argument("--out", type=Path, help="where the run, bundle and accuracy.md go")
    parser.add_argument("--eval-data", type=Path, help="score on every image of this labelled folder")
    parser.add_argument("--backbone", default="mobilenetv2", help="resnet50, mobilenetv2 or tiny")
    parser.add_argument("--weights", default="imagenet", help='"imagenet", "none" or a weights file')
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--calibration-samples", type=int, default=200)
    parser.add_argument("--max-drop", type=float, default=1.0, help="accuracy gate, percentage points")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.run is None and args.data is None:
        parser.error("give --data DIR (to train) or --run RUN_DIR")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from convert.config import ConvertConfig
    from convert.convert import convert_run
    from edge_all.errors import EdgeAllError
    from training.config import TrainConfig
    from training.dataset import read_split
    from training.run_dir import open_run

    try:
        if args.run is None:
            from training.train import train

            out = args.out or Path("runs") / f"accuracy-{args.backbone}"
            config = TrainConfig(
                data=args.data,
                out=out / "run",
                backbone=args.backbone,
                weights=args.weights,
                epochs=args.epochs,
                batch_size=args.batch_size,
                image_size=args.image_size,
                seed=args.seed,
                verbose=0,
            )
            run_dir = train(config).run_dir
        else:
            run_dir = args.run
            out = args.out or run_dir / "accuracy-benchmark"
            if args.data is not None:
                root = read_split(open_run(run_dir).split_path).root
                if Path(root).resolve() != args.data.resolve():
                    print(f"note: {run_dir} was split from {root}; its split is used, not {args.data}")
        result = convert_run(
            ConvertConfig(
                run_dir=run_dir,
                out=out / "bundle-int8",
                precision="int8",
                calibration_samples=args.calibration_samples,
                max_drop=args.max_drop,
                data=args.eval_data,
                force=True,
                progress=False,
            )
        )
    except EdgeAllError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    report = result.report
    provenance = [
        f"run dir: `{run_dir}`"
        + ("" if args.run else f" (trained here: {args.backbone}, {args.epochs} epochs)"),
        f"evaluated on: {report['images']} images, {report['eval_set']}",
        f"bundle: `{result.bundle_dir}`" + ("" if result.published else " (not published: gate failed)"),
        "command: `python -m benchmarks.accuracy " + " ".join(sys.argv[1:] if argv is None else argv) + "`",
    ]
    markdown = format_markdown(report, "Float vs int8 accuracy", provenance)
    out.mkdir(parents=True, exist_ok=True)
    (out / "accuracy.md").write_text(markdown, encoding="utf-8")
    print(markdown)
    print(f"(written to {out / 'accuracy.md'})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
