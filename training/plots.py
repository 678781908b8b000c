"""The pictures a run leaves: the test confusion matrix, the training curves, the robustness battery."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display on servers or in CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402


def plot_confusion(metrics: dict, path: Path, title: str) -> None:
    matrix = np.asarray(metrics["confusion_matrix"])
    classes = metrics["classes"]
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes)
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    high = matrix.max() if matrix.size else 0
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(j, i, str(value), ha="center", va="center", color="white" if value > high / 2 else "black")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_history(history: dict, path: Path) -> None:
    epochs = np.arange(1, len(history.get("loss", [])) + 1)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for ax, key in zip(axes, ("loss", "accuracy"), strict=True):
        ax.plot(epochs, history.get(key, []), label=f"train {key}", marker=".")
        if f"val_{key}" in history:
            ax.plot(epochs, history[f"val_{key}"], label=f"val {key}", marker=".")
        phases = history.get("phase", [])
        for i in range(1, len(phases)):
            if phases[i] != phases[i - 1]:
                ax.axvline(i + 0.5, color="grey", linestyle="--", linewidth=0.8)
        ax.set_xlabel(
            "epoch (dashed line: fine-tuning starts)" if "fine-tune" in history.get("phase", []) else "epoch"
        )
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(key)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_robustness(results, path: Path, title: str) -> None:
    """Accuracy under each condition of the battery, with the malignant images called Benign beside it."""
    names = [r.name for r in results][::-1]
    accuracy = [100 * r.accuracy for r in results][::-1]
    fig, ax = plt.subplots(figsize=(7, 0.28 * len(names) + 1.2))
    ax.barh(names, accuracy, color="tab:blue")
    low = min(accuracy, default=100)
    ax.set_xlim(max(0, min(low - 5, 90)), 100.5)
    for y, r in enumerate(results[::-1]):
        label = f" {r.accuracy:.1%}  malignant->Benign {r.malignant_called_benign}"
        ax.text(ax.get_xlim()[0] + 0.2, y, label, va="center", color="white", fontsize=7)
    ax.set_xlabel("accuracy (%)")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
