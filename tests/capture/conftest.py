"""Fixtures for the capture tests: real smear-like frames, real videos, a real model the suite made."""

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
def smear_classifier(int8_bundle):
    """The suite's own int8 bundle (trained on synthetic smears, converted and gated) as a Classifier."""
    from edge_all.runtime.classifier import Classifier

    return Classifier.load(int8_bundle, threads=1)
