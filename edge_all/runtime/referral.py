"""Refer what the model does not know: how unlike its training images an image's features are.

A classifier answers every image with a class and, all too often, with high confidence, even for a
cell photographed in another laboratory, with another stain and another camera. The model's own
confidence cannot tell (docs/referral.md measures it). What can is the feature vector the model
classifies from: images like the training images land near the training images' features, others
land far away. The detector is a class-conditional Gaussian model of the training features, with
one shared covariance, in a PCA-reduced space (the Mahalanobis-distance detector of Lee et al.,
2018); its score is the distance to the nearest class, divided by the threshold chosen on the
validation images, so that 1.0 and above means "refer".

numpy only, both the fitting (in convert/, on the converted model's own features) and the scoring
(on the device, once per frame: one small matrix-vector product).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_all.safe_write import replacing

METHOD = "mahalanobis-pca"
DEFAULT_DIMENSIONS = 128
# Added to the covariance's diagonal, as a fraction of its mean variance, so that a direction the
# training images barely vary in does not make every tiny difference there look unfamiliar.
DEFAULT_SHRINKAGE = 0.01


@dataclass(frozen=True)
class ReferralDetector:
    """Scores feature vectors; `threshold` is the raw squared distance that is 1.0 on the scale."""

    center: np.ndarray  # (D,) mean of the training features
    transform: np.ndarray  # (D, k) PCA projection times the Cholesky factor of the precision matrix
    class_means: np.ndarray  # (C, k) each class's mean, in the same whitened space
    threshold: float

    def distances(self, features: np.ndarray) -> np.ndarray:
        """Squared Mahalanobis distance to the nearest class, one per row of (N, D) features."""
        whitened = (
            np.asarray(features, np.float32).reshape(-1, len(self.center)) - self.center
        ) @ self.transform
        gaps = whitened[:, None, :] - self.class_means[None, :, :]
        return np.einsum("nck,nck->nc", gaps, gaps).min(axis=1)

    def unfamiliarity(self, features: np.ndarray) -> np.ndarray:
        """The score per row: 1.0 is the referral threshold, higher is less like the training images."""
        return self.distances(features) / self.threshold

    @classmethod
    def fit(
        cls,
        features: np.ndarray,
        labels: np.ndarray,
        dimensions: int = DEFAULT_DIMENSIONS,
        shrinkage: float = DEFAULT_SHRINKAGE,
    ) -> ReferralDetector:
        """Fit on training features (N, D) and class indices; `with_threshold` then sets the threshold."""
        features = np.asarray(features, np.float64)
        classes = np.unique(labels)
        # A covariance needs many more images than dimensions: at most one dimension per 10 images.
        dimensions = max(1, min(dimensions, features.shape[1], len(features) // 10))
        center = features.mean(axis=0)
        centred = features - center
        projection = np.linalg.svd(centred, full_matrices=False)[2][:dimensions].T  # (D, k)
        reduced = centred @ projection
        means = np.stack([reduced[labels == c].mean(axis=0) for c in classes])
        residuals = reduced - means[np.searchsorted(classes, labels)]
        covariance = residuals.T @ residuals / len(reduced)
        covariance += shrinkage * np.trace(covariance) / dimensions * np.eye(dimensions)
        factor = np.linalg.cholesky(np.linalg.inv(covariance))  # precision = factor @ factor.T
        return cls(
            center=center.astype(np.float32),
            transform=(projection @ factor).astype(np.float32),
            class_means=(means @ factor).astype(np.float32),
            threshold=1.0,
        )

    def with_threshold(self, validation_features: np.ndarray, referral_rate: float) -> ReferralDetector:
        """The same detector, with the threshold that refers `referral_rate` of the validation images."""
        if not 0.0 < referral_rate < 1.0:
            raise ValueError(f"the referral rate must be between 0 and 1, not {referral_rate}")
        threshold = float(np.quantile(self.distances(validation_features), 1.0 - referral_rate))
        return ReferralDetector(self.center, self.transform, self.class_means, max(threshold, 1e-12))

    def save(self, path: str | Path) -> None:
        with replacing(path, "the referral detector", text=False) as handle:
            np.savez(
                handle,
                center=self.center,
                transform=self.transform,
                class_means=self.class_means,
                threshold=np.float64(self.threshold),
            )

    @classmethod
    def load(cls, path: str | Path) -> ReferralDetector:
        """Read a detector saved by `save` (plain arrays only: no pickles are ever loaded)."""
        with np.load(path, allow_pickle=False) as data:
            detector = cls(
                center=data["center"].astype(np.float32),
                transform=data["transform"].astype(np.float32),
                class_means=data["class_means"].astype(np.float32),
                threshold=float(data["threshold"]),
            )
        dims, k = detector.transform.shape
        if (
            detector.center.shape != (dims,)
            or detector.class_means.shape[1:] != (k,)
            or detector.threshold <= 0
        ):
            raise ValueError(f"{path}: inconsistent detector arrays")
        return detector
