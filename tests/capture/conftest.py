"""Fixtures for the capture tests: real smear-like frames, real videos, a real model."""

from __future__ import annotations

import numpy as np
import pytest

CLASSES = ("Benign", "Early", "Pre", "Pro")


@pytest.fixture(scope="session")
def smear_frames() -> list[np.ndarray]:
    """Eight synthetic demo smears (two per class), the images the demo captures."""
    from training.demo_data import draw_smear

    rng = np.random.default_rng(7)
    return [draw_smear(CLASSES[i % 4], rng)[0] for i in range(8)]


@pytest.fixture(scope="session")
def coral_classifier(coral_models):
    """Google's real int8 ImageNet MobileNetV2 through edge_all's Classifier (fast, 224x224)."""
    from edge_all.classifier import Classifier

    return Classifier.load(
        coral_models / "mobilenet_v2_1.0_224_quant.tflite",
        labels=coral_models / "imagenet_labels.txt",
        threads=1,
    )
