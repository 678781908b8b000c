"""From what was measured on each commissioning field to the site's profile and its verdict.

The measuring itself (red cells, quality at the reference scale, LAB statistics) is done by the rooms
that own those measures (edge_all.triage.commissioning reads a field); this module only gathers them:
the site's scale is the median of the fields' estimates (a few fields of piled cells do not move it),
its stain reference the median of the fields' LAB statistics, and each quality baseline the median and
5th/95th percentiles over the fields. The verdict says "ready" only when the profile can be trusted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_all.cells.stain import LabStatistics
from edge_all.clock import now_iso
from edge_all.errors import EdgeAllError
from edge_all.site.profile import (
    Baseline,
    ImageUsed,
    QualityBaselines,
    SiteProfile,
    SiteScale,
    SkippedImage,
    StainReference,
    Verdict,
)

MIN_IMAGES = 10  # fewer: refused, no profile
ADVISED_IMAGES = 30  # fewer: not ready (30-50 fields of a normal control smear)
# The fields' scales disagree by more than this (IQR over median): not ready. One objective's fields
# spread 9-20% by the red-cell estimate alone (docs/scale.md: chula 8.8%, home lab 19.6% of 60 fields;
# chula's 50 commissioning fields 12%, the home lab's 23%), so 10% called real sites "not ready"; an
# objective changed between fields is a step of 1.5x or more (40x -> 60x), which a quarter of the
# fields or more taken through it carries well past 25%.
MAX_SCALE_SPREAD = 0.25
MAX_STATED_DIFFERENCE = 0.10  # measured vs stated scale: a warning over this


class CommissionError(EdgeAllError):
    """Commissioning refused, no profile: too few readable images, or images that are not commissioning
    material (see `refusal`)."""


@dataclass(frozen=True)
class FieldMeasures:
    """What one commissioning field gave, measured at the site's scale (see the module doc)."""

    name: str
    focus: float
    glass: float
    brightness: float
    stained: float
    lab: LabStatistics


@dataclass(frozen=True)
class Gates:
    """The quality gate's limits the baselines are checked against (edge_all.triage.thresholds)."""

    min_focus: float
    min_brightness: float
    max_brightness: float
    min_stained: float


def site_scale(images: list[ImageUsed], stated: float | None = None) -> SiteScale:
    """The median of the images' scale estimates and their spread; refused when none gave one."""
    scales = np.array([i.um_per_px for i in images if i.um_per_px is not None], float)
    if scales.size == 0:
        raise CommissionError(
            f"no scale from any of the {len(images)} images (no red cells measured): check the objective "
            "and that these are fields of a blood smear; no profile written"
        )
    median = float(np.median(scales))
    q1, q3 = np.percentile(scales, [25, 75])
    difference = None if stated is None else abs(median - stated) / stated
    return SiteScale(
        round(median, 5), round(float((q3 - q1) / median), 4), int(scales.size), len(images),
        stated, None if difference is None else round(difference, 4),
    )  # fmt: skip


def _baseline(values: list[float]) -> Baseline:
    p5, median, p95 = np.percentile(np.asarray(values, float), [5, 50, 95])
    return Baseline(round(float(median), 5), round(float(p5), 5), round(float(p95), 5))


def baselines(fields: list[FieldMeasures], um_per_px: float) -> QualityBaselines:
    return QualityBaselines(
        um_per_px,
        _baseline([f.focus for f in fields]),
        _baseline([f.glass for f in fields]),
        _baseline([f.brightness for f in fields]),
        _baseline([f.stained for f in fields]),
    )


def stain_reference(fields: list[FieldMeasures]) -> StainReference:
    means = np.median([f.lab.means for f in fields], axis=0)
    stds = np.median([f.lab.stds for f in fields], axis=0)
    return StainReference(
        "reinhard", "torchstain",
        tuple(round(float(v), 4) for v in means), tuple(round(float(v), 4) for v in stds),  # type: ignore[arg-type]
        len(fields),
    )  # fmt: skip


def refusal(scale: SiteScale, quality: QualityBaselines, gates: Gates) -> str | None:
    """Why these images cannot describe any site (None: they can), in one line with what to do.

    The line between refused and "not ready": refused images are not commissioning material at all
    (not fields of a blood smear, unstained, out of focus), so no profile of them would say anything
    about the microscope; "not ready" is a real smear whose fields show a fixable problem of the set-up
    (the lamp, the objective, too few fields), recorded so the report can say what to fix.
    """
    reasons: list[str] = []
    if scale.images_measured * 2 <= scale.images_total:
        reasons.append(
            f"these do not look like fields of a blood smear (red cells measured in {scale.images_measured} "
            f"of {scale.images_total} images): photograph the thin part of a stained smear where red cells "
            "lie apart, with the objective slides are read with"
        )
    if quality.stained.median < gates.min_stained:
        reasons.append(
            f"the fields are unstained (stained {quality.stained.median:.2%} < {gates.min_stained:.2%} in "
            "most fields): photograph a smear stained as the clinic stains patients' slides"
        )
    if quality.focus.median < gates.min_focus:
        reasons.append(
            f"most fields are out of focus (focus {quality.focus.median:.1f} < {gates.min_focus:g} at "
            f"{quality.um_per_px:.2g} um/px): focus on the red cells' edges and photograph them again"
        )
    return "; ".join(reasons) or None


def verdict(scale: SiteScale, quality: QualityBaselines, gates: Gates, images: int) -> Verdict:
    """Ready, or not ready with what to fix (a real smear; unsuitable images are refused before, see
    `refusal`); advice worth following either way."""
    reasons: list[str] = []
    advice: list[str] = []
    if images < ADVISED_IMAGES:
        reasons.append(
            f"too few images: {images} read, {ADVISED_IMAGES}-50 fields of a normal control smear advised"
        )
    if scale.spread > MAX_SCALE_SPREAD:
        reasons.append(
            f"the fields' scales disagree (spread {scale.spread:.0%} > {MAX_SCALE_SPREAD:.0%}): use one "
            "objective and one camera setting for every field"
        )
    if scale.stated_difference is not None and scale.stated_difference > MAX_STATED_DIFFERENCE:
        reasons.append(
            f"the measured scale {scale.um_per_px:.4g} um/px is {scale.stated_difference:.0%} from the "
            f"stated {scale.stated_um_per_px:.4g} um/px: check which objective is in place and the camera's "
            "resolution"
        )
    if quality.glass.median < gates.min_brightness:
        reasons.append(
            f"fields are too dark (glass {quality.glass.median:.0f} < {gates.min_brightness:g}): "
            "open the condenser or turn the lamp up"
        )
    if quality.brightness.median > gates.max_brightness:
        reasons.append(
            f"fields are washed out (brightness {quality.brightness.median:.0f} > {gates.max_brightness:g}): "
            "turn the lamp down or shorten the exposure"
        )
    if quality.focus.p5 < gates.min_focus:
        advice.append(
            f"some fields are near the focus limit (5th percentile {quality.focus.p5:.1f} < "
            f"{gates.min_focus:g}): refocus between fields"
        )
    return Verdict(not reasons, tuple(reasons), tuple(advice))


def make_profile(
    bundle_model_sha256: str,
    images: list[ImageUsed],
    skipped: list[SkippedImage],
    fields: list[FieldMeasures],
    scale: SiteScale,
    quality_um_per_px: float,
    gates: Gates,
) -> SiteProfile:
    """The profile of measured fields (every image that was read; `skipped` could not be)."""
    if len(images) < MIN_IMAGES:
        raise CommissionError(
            f"only {len(images)} readable images; commissioning needs at least {MIN_IMAGES} "
            f"({ADVISED_IMAGES}-50 advised); no profile written"
        )
    quality = baselines(fields, quality_um_per_px)
    refused = refusal(scale, quality, gates)
    if refused is not None:
        raise CommissionError(f"refused, no profile written: {refused}")
    return SiteProfile(
        created=now_iso(),
        bundle_model_sha256=bundle_model_sha256,
        images=tuple(images),
        skipped=tuple(skipped),
        scale=scale,
        stain=stain_reference(fields),
        quality=quality,
        verdict=verdict(scale, quality, gates, len(images)),
    )
