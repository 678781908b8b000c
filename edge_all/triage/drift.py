"""The drift warning: a field read with a site that does not look like the site's commissioning fields.

Read with a commissioned site, every field is read at the site's scale and standardised with its stain
reference; a field from another objective, a re-stained slide or a changed lamp is then read wrongly
without failing any check. So each field is compared with the profile, and a field far from it gets a
warning recorded with its result ("this field does not look like the commissioning slide: <what>"):

- scale: its own red cells (edge_all.cells.scale) more than SCALE_LIMIT (35%) from the site's scale (the
  larger over the smaller, so finer and coarser alike): beyond one field's own estimate noise (a site's
  fields may spread up to 25% IQR over median, edge_all.site.commission.MAX_SCALE_SPREAD), short of the
  1.5x of the nearest other objective;
- stain: the mean of its LAB channels (torchstain's, at the reference scale, as commissioning measured
  them) more than STAIN_LIMIT (10 units, Euclidean) from the site's reference; on the tests' synthetic
  fields a crowded or a sparse field of the same smear is about 6 away, a re-stained one 18;
- focus: below half the site's 5th percentile, or above twice its 95th (sharper than any commissioning
  field: another objective, camera or sensor noise), measured at the reference scale.
A field whose own scale cannot be estimated is not compared on scale (that is no drift). The red-cell
estimate is the costly part (about 0.5 s for a 640x480 field on the development machine, against
about 15 ms for the rest): a capture checks the scale on its first field and every SCALE_EVERY-th after
(one objective serves a whole slide), `classify` on every file. The warning changes nothing in how the
field is judged: a specialist decides what it means.
"""

from __future__ import annotations

import numpy as np

from edge_all.cells.resample import to_scale
from edge_all.cells.scale import REFERENCE_UM_PER_PX, ScaleEstimate, estimate_scale
from edge_all.cells.stain import lab_statistics
from edge_all.site.profile import SiteProfile
from edge_all.triage.quality import QualityMetrics

DRIFT_TEXT = "this field does not look like the commissioning slide"
SCALE_LIMIT = 0.35
STAIN_LIMIT = 10.0
FOCUS_LOW = 0.5  # x the site's 5th percentile
FOCUS_HIGH = 2.0  # x the site's 95th percentile
SCALE_EVERY = 10  # a capture's fields whose scale is checked: the first, then every 10th


def drift_of(
    rgb: np.ndarray,
    scale: ScaleEstimate | None,
    metrics: QualityMetrics | None,
    site: SiteProfile,
    check_scale: bool = True,
) -> str | None:
    """The warning for a field (`scale`: the one it was read at, in `rgb`'s pixels), or None;
    `check_scale` False leaves out the red-cell estimate (see the module doc)."""
    found: list[str] = []
    if scale is not None and scale.um_per_px is not None:
        used = scale.um_per_px
        own = estimate_scale(rgb).um_per_px if check_scale else None
        apart = max(own / used, used / own) - 1.0 if own is not None else 0.0  # either way alike
        if apart > SCALE_LIMIT:
            found.append(
                f"scale {own:.3g} um/px by its red cells, the site's {used:.3g} ({apart:.0%} "
                f"apart > {SCALE_LIMIT:.0%}): another objective or camera setting?"
            )
        means = np.asarray(lab_statistics(to_scale(rgb, used, REFERENCE_UM_PER_PX).rgb).means)
        distance = float(np.linalg.norm(means - np.asarray(site.stain.means)))
        if distance > STAIN_LIMIT:
            found.append(
                f"stain {distance:.1f} LAB units from the site's reference (> {STAIN_LIMIT:g}): "
                "another stain or lamp?"
            )
    if metrics is not None and metrics.um_per_px is not None:
        focus = site.quality.focus
        if metrics.focus < FOCUS_LOW * focus.p5 or metrics.focus > FOCUS_HIGH * focus.p95:
            found.append(
                f"focus {metrics.focus:.0f}, the site's fields {focus.p5:.0f}-{focus.p95:.0f} "
                f"(outside {FOCUS_LOW:g}x-{FOCUS_HIGH:g}x)"
            )
    return f"{DRIFT_TEXT}: {'; '.join(found)}" if found else None
