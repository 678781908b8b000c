"""The commissioning report, SITE_DIR/report.html: one self-contained page, printable from a browser.

What a technician or a specialist checks before a clinic reads patients' slides: the fields used, the
scale histogram, the focus and exposure of every field against the quality gate's limits, the stain
reference and the verdict. The charts are inline SVG drawn here (no script, no file beside the page),
so the page prints to PDF as it shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import jinja2
import numpy as np

from edge_all.cells.resample import to_scale
from edge_all.cells.scale import REFERENCE_UM_PER_PX
from edge_all.cells.stain import StainError, StainNormaliser
from edge_all.runtime.bundle import Stain
from edge_all.runtime.images import ImageError, load_rgb
from edge_all.safe_write import write_file
from edge_all.site.before_after import BeforeAfter
from edge_all.site.commission import FieldMeasures, Gates
from edge_all.site.gallery import CellSeen, data_uri, groups
from edge_all.site.profile import IMAGES_DIR, REPORT_FILE, SiteProfile

WIDTH, HEIGHT, PAD = 520, 170, 34


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str  # the bin's range and count, shown on hover and in print as a title


@dataclass(frozen=True)
class Histogram:
    """An SVG histogram's parts: bars, the axis' ends, and a marked value (a limit or the median)."""

    title: str
    bars: tuple[Bar, ...]
    low: str
    high: str
    marks: tuple[tuple[float, str, str], ...]  # (x, label, its text-anchor: start, or end near the right)
    width: int = WIDTH
    height: int = HEIGHT
    pad: int = PAD


def histogram(title: str, values: Sequence[float], marks: dict[str, float], bins: int = 16) -> Histogram:
    """Bin `values` (and keep each mark, a limit or a median, inside the drawn range)."""
    data = np.asarray(values, float)
    low = float(min(data.min(), *marks.values())) if marks else float(data.min())
    high = float(max(data.max(), *marks.values())) if marks else float(data.max())
    if high - low < 1e-9:
        low, high = low - 0.5 * abs(low or 1.0) * 0.1, high + 0.5 * abs(high or 1.0) * 0.1
    counts, edges = np.histogram(data, bins=bins, range=(low, high))
    inner_w, inner_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD

    def x_of(value: float) -> float:
        return round(PAD + (value - low) / (high - low) * inner_w, 2)

    top = max(int(counts.max()), 1)
    bars = tuple(
        Bar(
            x_of(edges[i]), round(PAD + inner_h * (1 - c / top), 2), round(inner_w / bins - 1, 2),
            round(inner_h * c / top, 2), f"{edges[i]:.4g}-{edges[i + 1]:.4g}: {c} fields",
        )
        for i, c in enumerate(counts.tolist())
    )  # fmt: skip
    return Histogram(
        title, bars, f"{low:.4g}", f"{high:.4g}",
        tuple(
            (x_of(v), f"{name} {v:.4g}", "end" if x_of(v) > WIDTH / 2 else "start")
            for name, v in marks.items()
        ),
    )  # fmt: skip


@dataclass(frozen=True)
class Colours:
    """One commissioning field as taken and as the bundle reads it (PNG data URIs); `note` when there is
    no "after" (the bundle does not normalise, or the stain cannot be applied here)."""

    before: str
    after: str | None
    note: str | None


def colours(site_dir: Path, profile: SiteProfile, stain: Stain | None) -> Colours | None:
    """The first commissioning field at the reference scale, before and after normalisation with the
    site's stain reference and the bundle's target (None: the field cannot be read again)."""
    if not profile.images:
        return None
    try:
        rgb = load_rgb(site_dir / IMAGES_DIR / profile.images[0].name)
    except ImageError:
        return None
    at = to_scale(rgb, profile.scale.um_per_px, REFERENCE_UM_PER_PX).rgb[:240, :320]
    if stain is None or stain.method == "none":
        return Colours(data_uri(at), None, "this bundle does not normalise the stain")
    try:
        after = StainNormaliser(stain, profile.stain.statistics)(at)
    except StainError as exc:
        return Colours(data_uri(at), None, str(exc))
    return Colours(data_uri(at), data_uri(after), None)


def render(
    profile: SiteProfile,
    fields: Sequence[FieldMeasures],
    gates: Gates,
    colour: Colours | None = None,
    cells: Sequence[CellSeen] = (),
    shares: BeforeAfter | None = None,
) -> str:
    """The report's HTML."""
    scales = [i.um_per_px for i in profile.images if i.um_per_px is not None]
    scale_marks = {"site": profile.scale.um_per_px}
    if profile.scale.stated_um_per_px is not None:
        scale_marks["stated"] = profile.scale.stated_um_per_px
    charts = [
        histogram("Scale of each field (um per pixel, from its red cells)", scales, scale_marks),
        histogram(
            "Focus of each field (variance of the Laplacian at the reference scale)",
            [f.focus for f in fields],
            {"gate's limit": gates.min_focus, "median": profile.quality.focus.median},
        ),
        histogram(
            "Glass level of each field (the lamp through bare glass, luma 0-255)",
            [f.glass for f in fields],
            {"too dark below": gates.min_brightness},
        ),
        histogram(
            "Exposure of each field (mean luma 0-255)",
            [f.brightness for f in fields],
            {"washed out above": gates.max_brightness},
        ),
    ]
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("edge_all.site", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    by_name = {f.name: f for f in fields}
    return env.get_template("report.html").render(
        profile=profile,
        charts=charts,
        gates=gates,
        by_name=by_name,
        colour=colour,
        cell_groups=groups(cells),
        shares=shares,
    )


def write_report(
    site_dir: Path,
    profile: SiteProfile,
    fields: Sequence[FieldMeasures],
    gates: Gates,
    stain: Stain | None = None,
    cells: Sequence[CellSeen] = (),
    shares: BeforeAfter | None = None,
) -> Path:
    """Write SITE_DIR/report.html; `stain` is the bundle's (for the colour before and after), `cells`
    the threshold check's (the gallery), `shares` the before and after."""
    path = site_dir / REPORT_FILE
    html = render(profile, fields, gates, colours(site_dir, profile, stain), cells, shares)
    write_file(path, html, "the commissioning report")
    return path
