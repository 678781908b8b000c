"""The accuracy check as a table people read: float and converted side by side, per class."""

from __future__ import annotations

from typing import Any


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _change(before: float | None, after: float | None) -> str:
    if before is None or after is None:
        return ""
    return f"{100 * (after - before):+.1f} pp"


def _size(nbytes: int | None) -> str:
    if nbytes is None:
        return "n/a"
    return f"{nbytes / 1024:.1f} KiB" if nbytes < 1024 * 1024 else f"{nbytes / 1024 / 1024:.2f} MiB"


def format_report(report: dict[str, Any]) -> str:
    """Render an accuracy check report (AccuracyReport.to_dict()) as a plain-text table."""
    float_model, converted = report["float_model"], report["converted"]
    conversion = report.get("conversion", {})
    rows = [
        ("", float_model["name"], converted["name"], "change"),
        (
            "accuracy",
            _pct(float_model["accuracy"]),
            _pct(converted["accuracy"]),
            _change(float_model["accuracy"], converted["accuracy"]),
        ),
    ]
    for label in report["labels"]:
        before, after = float_model["per_class_recall"][label], converted["per_class_recall"][label]
        name = f"recall {label} (n={report['support'][label]})"
        rows.append((name, _pct(before), _pct(after), _change(before, after)))
    if conversion.get("model_bytes") is not None:
        float_bytes, model_bytes = conversion.get("float_model_bytes"), conversion["model_bytes"]
        ratio = f"{100 * model_bytes / float_bytes:.0f}% of float32" if float_bytes else ""
        rows.append(("model size (.tflite)", _size(float_bytes), _size(model_bytes), ratio))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [f"Accuracy check on {report['images']} images ({report['eval_set']})"]
    for k, row in enumerate(rows):
        lines.append(
            "  ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    changed = report["changed"]
    lines.append(
        f"top-1 agreement {_pct(report['top1_agreement'])}: {changed['images']} of {report['images']} images "
        f"changed class ({changed['became_right']} became right, {changed['became_wrong']} became wrong)"
    )
    lines.append(f"mean |probability difference| {report['mean_abs_prob_diff']:.4f}")
    if conversion.get("seconds") is not None:
        lines.append(f"conversion took {conversion['seconds']:.1f} s")
    if report["skipped"]:
        lines.append(
            f"{len(report['skipped'])} image(s) could not be read and were left out, "
            f"e.g. {report['skipped'][0]}"
        )
    verdict = "PASSED" if report["passed"] else "FAILED"
    lines.append(
        f"gate {verdict}: accuracy drop {report['drop_pp']:.1f} pp "
        f"({'within' if report['passed'] else 'more than'} the {report['max_drop_pp']:g} pp allowed)"
    )
    lines.extend(f"note: {note}" for note in report.get("notes", []))
    lines.append(report["caveat"])
    return "\n".join(lines)
