"""The site's unfamiliarity threshold: never above the bundle's, never above what keeps the blasts flagged.

The rule (the one place it lives; tests/site/test_threshold.py holds it to it): a blast made to look
like this site is *flagged* when it is ALL-like or referred. Whatever the threshold, a blast the model
calls ALL-like, uncertain or a class that always refers stays flagged; one it clears (or drops) is
flagged only when its unfamiliarity reaches the threshold. The site's threshold is

    min(the bundle's threshold, the largest threshold at which >= MIN_FLAGGED of the blasts are flagged)

so it can only be lowered (more referred), never raised: that the site's normal cells look unfamiliar
(and are referred) is no reason to loosen it. When even the bundle's own threshold leaves fewer than
MIN_FLAGGED flagged, the site is not ready: the model cannot keep this site's blasts flagged.
"""

from __future__ import annotations

import math

import numpy as np

MIN_FLAGGED = 0.95
NOT_READY = (
    "the model cannot keep this site's blasts flagged ({share:.1%} of {n} home-lab blasts made to look like "
    "this site are ALL-like or referred at the bundle's threshold, {need:.0%} needed): refer every slide "
    "until a specialist checks"
)


def flagged_share(always: np.ndarray, unfamiliarity: np.ndarray | None, threshold: float) -> float:
    """The share of blasts flagged at `threshold` (`always`: flagged whatever the threshold)."""
    always = np.asarray(always, bool)
    if always.size == 0:
        return 0.0
    if unfamiliarity is None:
        return float(always.mean())
    return float(np.mean(always | (np.asarray(unfamiliarity, float) >= threshold)))


def largest_keeping(
    always: np.ndarray, unfamiliarity: np.ndarray | None, share: float = MIN_FLAGGED
) -> float:
    """The largest threshold at which at least `share` of the blasts are flagged (inf: any; 0: none,
    i.e. only by referring everything)."""
    always = np.asarray(always, bool)
    need = math.ceil(share * always.size - 1e-9) - int(always.sum())
    if need <= 0:
        return math.inf
    if unfamiliarity is None:
        return 0.0
    rest = np.sort(np.asarray(unfamiliarity, float)[~always])[::-1]
    return float(rest[need - 1]) if need <= rest.size else 0.0


def site_threshold(
    always: np.ndarray, unfamiliarity: np.ndarray | None, bundle_threshold: float = 1.0
) -> tuple[float, str | None]:
    """The site's threshold (the module's rule) and, when the bundle's own keeps too few blasts flagged,
    the not-ready reason."""
    threshold = min(bundle_threshold, largest_keeping(always, unfamiliarity))
    at_bundle = flagged_share(always, unfamiliarity, bundle_threshold)
    if at_bundle < MIN_FLAGGED:
        return threshold, NOT_READY.format(share=at_bundle, n=len(always), need=MIN_FLAGGED)
    return threshold, None
