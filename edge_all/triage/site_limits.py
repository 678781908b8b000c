"""The quality gate's limits relative to a commissioned site: what a good field looks like on this
microscope (its baselines, edge_all.site) raises the fixed limits, never lowers them.

Focus is measured at the reference scale, so the fixed limit means the same on every microscope; but a
microscope whose good fields read 300 lets a field blurred to a third of that pass a limit of 40. With a
site, each limit is

    max(configured limit, min(fraction x the site's median, the site's 5th percentile))

- the configured limit (the gate's default, or --quality-config / the flags) is the floor: a site never
  makes the gate looser than it is without one;
- a fraction of the site's median says "this much worse than a typical good field here is a bad field";
- the site's own 5th percentile caps it, so the site's commissioning fields themselves (all but the
  poorest 5%) still pass the gate they set.
The exposure's upper limit (washed out) and the clipping and contrast limits stay as configured: they
are the sensor's, not the site's.
"""

from __future__ import annotations

from edge_all.site.profile import Baseline, QualityBaselines
from edge_all.triage.thresholds import QualityThresholds

FOCUS_FRACTION = 0.5  # half as sharp as the site's median good field: out of focus
GLASS_FRACTION = 0.8  # the lamp through bare glass at 80% of the site's: too dark (its stain reference
# was measured under the site's lamp)
STAINED_FRACTION = 0.2  # a fifth of the site's median stained share: no stained cells


def relative_limit(configured: float, baseline: Baseline, fraction: float) -> float:
    """max(configured, min(fraction x median, p5)): see the module doc."""
    return max(configured, min(fraction * baseline.median, baseline.p5))


def site_thresholds(limits: QualityThresholds, baselines: QualityBaselines) -> QualityThresholds:
    """The gate's limits for fields read with a site whose quality baselines are `baselines`."""
    return limits.replace(
        min_focus=round(relative_limit(limits.min_focus, baselines.focus, FOCUS_FRACTION), 3),
        min_brightness=round(relative_limit(limits.min_brightness, baselines.glass, GLASS_FRACTION), 3),
        min_stained=round(relative_limit(limits.min_stained, baselines.stained, STAINED_FRACTION), 5),
    )
