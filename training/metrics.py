"""Classification metrics in plain numpy (no sklearn): per-class results, not only accuracy."""

from __future__ import annotations

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Rows are true classes, columns predicted classes."""
    matrix = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(matrix, (np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)), 1)
    return matrix


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num/den with 0 where den is 0 (sklearn's zero_division=0)."""
    num, den = np.asarray(num, np.float64), np.asarray(den, np.float64)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def classification_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, classes: tuple[str, ...] | list[str]
) -> dict:
    """Accuracy, per-class precision/recall/F1/support, macro and weighted averages, confusion matrix."""
    matrix = confusion_matrix(y_true, y_pred, len(classes))
    tp = np.diag(matrix)
    support = matrix.sum(axis=1)
    predicted = matrix.sum(axis=0)
    precision = _ratio(tp, predicted)
    recall = _ratio(tp, support)
    f1 = _ratio(2 * precision * recall, precision + recall)
    total = int(support.sum())
    weights = _ratio(support, np.full_like(support, total)) if total else np.zeros(len(classes))
    per_class = {
        name: {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, name in enumerate(classes)
    }
    return {
        "accuracy": float(tp.sum() / total) if total else 0.0,
        "count": total,
        "per_class": per_class,
        "macro_avg": {
            "precision": float(precision.mean()),
            "recall": float(recall.mean()),
            "f1": float(f1.mean()),
            "support": total,
        },
        "weighted_avg": {
            "precision": float((precision * weights).sum()),
            "recall": float((recall * weights).sum()),
            "f1": float((f1 * weights).sum()),
            "support": total,
        },
        "classes": list(classes),
        "confusion_matrix": matrix.tolist(),
    }


def format_report(metrics: dict, digits: int = 3) -> str:
    """A table laid out like sklearn's classification_report."""
    names = list(metrics["per_class"]) + ["macro avg", "weighted avg"]
    width = max(len(n) for n in names + ["accuracy"])
    head = f"{'':>{width}} {'precision':>9} {'recall':>9} {'f1-score':>9} {'support':>9}"
    lines = [head, ""]

    def row(name: str, m: dict) -> str:
        return (
            f"{name:>{width}} {m['precision']:>9.{digits}f} {m['recall']:>9.{digits}f} "
            f"{m['f1']:>9.{digits}f} {m['support']:>9d}"
        )

    lines += [row(name, m) for name, m in metrics["per_class"].items()]
    lines.append("")
    lines.append(
        f"{'accuracy':>{width}} {'':>9} {'':>9} {metrics['accuracy']:>9.{digits}f} {metrics['count']:>9d}"
    )
    lines.append(row("macro avg", metrics["macro_avg"]))
    lines.append(row("weighted avg", metrics["weighted_avg"]))
    return "\n".join(lines)


def format_confusion(metrics: dict) -> str:
    """The confusion matrix as text: rows true, columns predicted."""
    classes = metrics["classes"]
    width = max(8, *(len(c) for c in classes))
    corner = "true \\ pred"
    lines = [f"{corner:>{width + 4}} " + " ".join(f"{c:>{width}}" for c in classes)]
    for name, row in zip(classes, metrics["confusion_matrix"], strict=True):
        lines.append(f"{name:>{width + 4}} " + " ".join(f"{v:>{width}d}" for v in row))
    return "\n".join(lines)
