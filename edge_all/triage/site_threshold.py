"""Commissioning's check of the unfamiliarity threshold: the site's normal cells, and the home lab's
blasts made to look like the site, read as `--site` will read them.

The normal cells are the white cells found in the commissioning fields, each field read with the
site's scale and stain reference (edge_all.triage.cells.CellReader). The blasts come from the bundle's
blasts.npz (edge_all.triage.blasts), given the site's stain, blur and noise, then normalised by the
reading's own normaliser (the site's statistics to the bundle's target), as a field's pixels are. The
threshold itself is edge_all.site.threshold's rule.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np

from edge_all.cells.finder import find_white_cells
from edge_all.cells.resample import to_scale
from edge_all.cells.scale import REFERENCE_UM_PER_PX
from edge_all.runtime.bundle import BLASTS_FILE
from edge_all.runtime.classifier import Classifier, Prediction
from edge_all.runtime.images import load_rgb
from edge_all.site.gallery import CellSeen
from edge_all.site.profile import SiteProfile, ThresholdCheck, Verdict
from edge_all.site.threshold import flagged_share, site_threshold
from edge_all.triage.blasts import HomeBlasts, look_like_site, noise_level
from edge_all.triage.cells import CellReader, CellStatus, cell_status

NO_BLASTS = "not checked (the bundle carries no blasts)"
NOT_CELLS = "not checked (the bundle reads whole fields, not cells)"
NORMAL_CLEARED = 0.95  # the targets on a normal smear: advice when missed
NORMAL_ALL_LIKE = 0.01


def _statuses(
    reader: CellReader, batch: np.ndarray, refer_above: float
) -> tuple[list[CellStatus], np.ndarray | None, list[Prediction]]:
    """Each (model-sized) crop's status at `refer_above`, the unfamiliarity scores (None: no detector)
    and the predictions."""
    predictions = reader.classifier.predict_batch(batch)
    statuses = [
        cell_status(p, reader.roles[p.label], reader.classifier.confidence_threshold, refer_above)[0]
        for p in predictions
    ]
    scores = [p.unfamiliarity for p in predictions]
    return statuses, None if any(s is None for s in scores) else np.asarray(scores, float), predictions


def check_threshold(
    profile: SiteProfile, bundle: Path, fields: list[Path]
) -> tuple[SiteProfile, tuple[CellSeen, ...]]:
    """`profile` with its threshold checked (and its verdict not ready when the blasts are not kept
    flagged), when the bundle at `bundle` reads cells and carries blasts; else the check says why not.
    With it, every white cell of the fields as read at the site's threshold (the report's gallery)."""
    classifier = Classifier.load(bundle)
    manifest = classifier.manifest
    assert manifest is not None
    if not manifest.reads_cells:
        return replace(profile, threshold=ThresholdCheck(note=NOT_CELLS)), ()
    reader = CellReader(classifier, profile.stain.statistics)
    crops, names, noises = [], [], []
    for path in fields:
        rgb = load_rgb(path)
        noises.append(noise_level(to_scale(rgb, profile.scale.um_per_px, REFERENCE_UM_PER_PX).rgb))
        at = to_scale(rgb, profile.scale.um_per_px, reader.um_per_px)
        found = find_white_cells(at.rgb, at.um_per_px)
        if found:  # the model-sized crops, as CellReader.read cuts them
            crops.append(reader.crops(reader.stain(at.rgb), found))
            names += [path.name] * len(found)
    if manifest.blasts_sha256 is None:
        check, cells = _with_normal(ThresholdCheck(note=NO_BLASTS), reader, crops, names, 1.0)
        return replace(profile, threshold=check), cells
    blasts = HomeBlasts.load(bundle / BLASTS_FILE)
    site_noise = float(np.median(noises)) if noises else 0.0
    looking, look = look_like_site(blasts, profile.stain.statistics, profile.quality.focus.median, site_noise)
    batch = np.stack([classifier.prepare(reader.stain(crop)) for crop in looking])
    statuses, scores, _ = _statuses(reader, batch, math.inf)
    always = np.array([s in (CellStatus.ALL_LIKE, CellStatus.REFERRED) for s in statuses])
    threshold, not_ready = site_threshold(always, scores, 1.0)
    check = ThresholdCheck(
        threshold=round(threshold, 6), bundle_threshold=1.0, checked=True, note=None, blasts=len(always),
        blasts_flagged=round(flagged_share(always, scores, threshold), 4),
        blasts_flagged_at_bundle=round(flagged_share(always, scores, 1.0), 4),
        blur_sigma_px=look.blur_sigma, noise_sigma=look.noise_sigma,
    )  # fmt: skip
    check, cells = _with_normal(check, reader, crops, names, threshold)
    verdict = profile.verdict
    reasons, advice = list(verdict.reasons), list(verdict.advice)
    if not_ready is not None:
        reasons.append(not_ready)
    if check.normal_cells and (
        (check.normal_cleared or 0) < NORMAL_CLEARED or (check.normal_all_like or 0) > NORMAL_ALL_LIKE
    ):
        advice.append(
            f"the site's own normal cells: {check.normal_cleared:.1%} cleared, {check.normal_all_like:.1%} "
            f"confidently ALL-like, {check.normal_referred:.1%} referred (of {check.normal_cells}): expect "
            "referrals on normal slides; a specialist should look at the commissioning report's cells"
        )
    verdict = Verdict(not reasons, tuple(reasons), tuple(advice))
    return replace(profile, threshold=check, verdict=verdict), cells


def _with_normal(
    check: ThresholdCheck, reader: CellReader, crops: list[np.ndarray], names: list[str], threshold: float
) -> tuple[ThresholdCheck, tuple[CellSeen, ...]]:
    """The check with the site's normal cells counted at `threshold` (dropped ones not counted), and
    every cell as read (`names`: each crop's field)."""
    if not crops:
        return check, ()
    batch = np.concatenate(crops)
    statuses, _, predictions = _statuses(reader, batch, threshold)
    cells = tuple(
        CellSeen(name, p.label, reader.roles[p.label], float(p.confidence), s.value, crop)
        for name, p, s, crop in zip(names, predictions, statuses, batch, strict=True)
    )
    counted = [s for s in statuses if s is not CellStatus.DROPPED]
    if not counted:
        return check, cells
    share = lambda status: round(sum(s is status for s in counted) / len(counted), 4)  # noqa: E731
    return replace(
        check, normal_cells=len(counted), normal_cleared=share(CellStatus.CLEARED),
        normal_referred=share(CellStatus.REFERRED), normal_all_like=share(CellStatus.ALL_LIKE),
    ), cells  # fmt: skip
