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
    lines += _robustness_lines(report.get("robustness") or {})
    lines += _referral_lines(report.get("referral") or {}, report.get("calibration") or {})
    clean_ok = report["drop_pp"] <= report["max_drop_pp"]
    verdict = "PASSED" if report["passed"] else "FAILED"
    lines.append(
        f"gate {verdict}: accuracy drop {report['drop_pp']:.1f} pp "
        f"({'within' if clean_ok else 'more than'} the {report['max_drop_pp']:g} pp allowed)"
        + _battery_verdict(report.get("robustness") or {})
    )
    lines.extend(f"note: {note}" for note in report.get("notes", []))
    lines.append(report["caveat"])
    return "\n".join(lines)


def _robustness_lines(robustness: dict[str, Any]) -> list[str]:
    if not robustness:
        return []
    lines = [
        "",
        f"Under the robustness battery (version {robustness['battery_version']}), float -> converted:",
    ]
    for c in robustness["conditions"]:
        referred = "" if c["referred"] is None else f", referred {c['referred']:.1%}"
        flag = "" if c["passed"] else "  <-- FAILED"
        lines.append(
            f"  {c['name']:<12} {_pct(c['float_accuracy']):>7} -> {_pct(c['converted_accuracy']):>7} "
            f"({-c['drop_pp']:+.1f} pp, chance {c['margin_pp']:.1f} pp); malignant called Benign "
            f"{c['float_malignant_called_benign']} -> {c['converted_malignant_called_benign']}"
            f"/{c['malignant']}{referred}{flag}"
        )
    return lines


def _referral_lines(referral: dict[str, Any], calibration: dict[str, Any]) -> list[str]:
    lines = []
    if referral:
        kept = referral["accuracy_not_referred"]
        lines += [
            "",
            f"referral: {referral['referred']:.1%} of these images referred as unfamiliar; accuracy on the "
            f"rest {_pct(kept)} (all: {_pct(referral['accuracy_all'])})",
        ]
        ood = referral.get("ood")
        if ood:
            lines.append(
                f"  images from other laboratories ({ood['folder']}, {ood['images']}): {ood['referred']:.1%} "
                f"referred; AUROC {ood['auroc']:.3f}"
            )
    if calibration.get("temperature") is not None:
        lines.append(
            f"calibration: temperature {calibration['temperature']:.3f}; expected calibration error on "
            f"these images {calibration['ece_test_before']:.2%} -> {calibration['ece_test_after']:.2%}"
        )
    return lines


def _battery_verdict(robustness: dict[str, Any]) -> str:
    if not robustness:
        return ""
    if robustness["passed"]:
        return f"; every battery condition within {robustness['max_drop_pp']:g} pp (beyond chance)"
    return f"; FAILED under {', '.join(robustness['failed_conditions'])}"


def gate_failure(report: dict[str, Any]) -> str:
    """The one line that says why the gate refused the converted model."""
    converted, floating = report["converted"]["accuracy"], report["float_model"]["accuracy"]
    if report["drop_pp"] > report["max_drop_pp"]:
        return (
            f"accuracy gate failed: {report['converted']['name']} accuracy {100 * converted:.1f}% vs float "
            f"{100 * floating:.1f}% ({100 * (converted - floating):+.1f} pp; a drop of at most "
            f"{report['max_drop_pp']:g} pp is allowed)"
        )
    robustness = report["robustness"]
    worst = max(robustness["conditions"], key=lambda c: c["drop_pp"] - c["margin_pp"])
    return (
        f"robustness gate failed under {', '.join(robustness['failed_conditions'])}: e.g. {worst['name']} "
        f"{100 * worst['converted_accuracy']:.1f}% vs float {100 * worst['float_accuracy']:.1f}% "
        f"({-worst['drop_pp']:+.1f} pp; at most {robustness['max_drop_pp']:g} pp beyond chance "
        f"({worst['margin_pp']:.1f} pp) is allowed)"
    )
