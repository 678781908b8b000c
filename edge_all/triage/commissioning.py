"""Commissioning a site: each field read as triage reads it, then gathered into the site's profile.

The site room (edge_all.site) holds the profile and gathers the measures; measuring a field's quality
is triage's (edge_all.triage.quality), so the run lives here, a room above it. Two passes: the red
cells of every image give the site's scale (the median); then every image is measured at that scale,
as a field read with `--site` will be: quality at the reference scale, LAB statistics for the stain
reference. The images are copied into SITE_DIR/images/ first, so `--again` re-runs on exactly them.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from edge_all.cells.resample import to_scale
from edge_all.cells.scale import REFERENCE_UM_PER_PX, ScaleEstimate, estimate_scale
from edge_all.cells.stain import lab_statistics
from edge_all.digest import sha256_file
from edge_all.errors import FileError
from edge_all.runtime.bundle import BundleManifest
from edge_all.runtime.images import ImageError, read_image, read_rgb
from edge_all.site.before_after import CELL_COLUMNS, FIELD_COLUMNS, BeforeAfter
from edge_all.site.commission import (
    ADVISED_IMAGES,
    MIN_IMAGES,
    CommissionError,
    FieldMeasures,
    Gates,
    make_profile,
    site_scale,
)
from edge_all.site.gallery import CellSeen
from edge_all.site.profile import (
    IMAGES_DIR,
    ImageUsed,
    SiteProfile,
    SkippedImage,
    ThresholdCheck,
    write_profile,
)
from edge_all.site.report import write_report
from edge_all.triage.quality import measure
from edge_all.triage.site_threshold import NOT_CELLS, check_threshold
from edge_all.triage.thresholds import QualityThresholds


@dataclass(frozen=True)
class Commissioned:
    """A commissioning's profile, the fields' measures (the report draws their distributions) and the
    white cells the threshold check read in them (the report's gallery; none when not checked)."""

    profile: SiteProfile
    fields: tuple[FieldMeasures, ...]
    cells: tuple[CellSeen, ...] = ()
    shares: BeforeAfter | None = None


def gates_of(limits: QualityThresholds) -> Gates:
    return Gates(limits.min_focus, limits.min_brightness, limits.max_brightness, limits.min_stained)


def _stored_name(source: Path, taken: set[str], sha256: str) -> str:
    name = source.name
    if name in taken:
        name = f"{sha256[:8]}-{name}"
    taken.add(name)
    return name


def store_images(
    files: Iterable[Path], site_dir: Path, skip: Callable[[SkippedImage], None]
) -> list[tuple[Path, str]]:
    """Copy each readable image into SITE_DIR/images/ (each unreadable one is `skip`ped): (copy, sha256)."""
    folder = site_dir / IMAGES_DIR
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FileError(f"{folder}: cannot create the images folder ({exc.strerror or exc})") from None
    if any(folder.iterdir()):
        raise FileError(
            f"{folder}: already holds a commissioning's images; commission again with "
            f"`edge-all commission --again {site_dir}`, or give a new SITE_DIR"
        )
    stored, taken = [], set()
    for path in files:
        try:
            read_image(path)  # a file that is no image is refused before it is copied
            sha256 = sha256_file(path)
            target = folder / _stored_name(path, taken, sha256)
            shutil.copyfile(path, target)
        except ImageError as exc:
            skip(SkippedImage(str(path), str(exc)))
            continue
        except OSError as exc:
            skip(SkippedImage(str(path), f"{path}: cannot copy ({exc.strerror or exc})"))
            continue
        stored.append((target, sha256))
    return stored


def stored_images(site_dir: Path, skip: Callable[[SkippedImage], None]) -> list[tuple[Path, str]]:
    """The images a previous commissioning stored (for `--again`)."""
    folder = site_dir / IMAGES_DIR
    if not folder.is_dir():
        raise FileError(f"{folder}: no stored commissioning images; commission with IMAGES --out {site_dir}")
    return [(path, sha256_file(path)) for path in sorted(folder.iterdir()) if path.is_file()]


def file_scale(path: Path) -> ScaleEstimate:
    """The red cells' scale in the file's own pixels, as `--site` will give it for the file.

    A JPEG too large to decode whole comes at 1/2-1/8 (read_rgb's reduction), whose pixels each
    span `reduction` of the file's: the estimate made on them is divided back to the file's pixels.
    """
    rgb, reduction = read_rgb(path)
    estimate = estimate_scale(rgb)
    if estimate.um_per_px is None or reduction == 1:
        return estimate
    return replace(estimate, um_per_px=estimate.um_per_px / reduction)


def measure_field(path: Path, um_per_px: float) -> tuple[FieldMeasures, float | None]:
    """One field's measures at the site's scale (of the file's pixels), and the scale they were
    read at: a field decoded at reduced size is read at its own pixels' scale (ScaleEstimate.reduced),
    as classify reads it."""
    rgb, reduction = read_rgb(path)
    at_decoded = ScaleEstimate(um_per_px, "site").reduced(reduction).um_per_px
    metrics = measure(rgb, at_decoded)
    at = to_scale(rgb, at_decoded, REFERENCE_UM_PER_PX).rgb
    measures = FieldMeasures(
        path.name, metrics.focus, metrics.glass or 0.0, metrics.brightness, metrics.stained,
        lab_statistics(at),
    )  # fmt: skip
    return measures, metrics.um_per_px


def commission(
    images: list[tuple[Path, str]],
    bundle_model_sha256: str,
    limits: QualityThresholds,
    stated_um_per_px: float | None = None,
    skipped: Iterable[SkippedImage] = (),
    skip: Callable[[SkippedImage], None] = lambda s: None,
    progress: Callable[[Iterable], Iterable] = lambda items: items,
) -> Commissioned:
    """Measure the stored `images` (path, sha256) and make the profile; raises CommissionError when no
    profile can be made (too few images, no scale from any)."""
    skipped = list(skipped)
    used: list[ImageUsed] = []
    pixels: dict[str, Path] = {}

    def unreadable(path: Path, exc: Exception) -> None:
        skipped.append(SkippedImage(str(path), str(exc)))
        skip(skipped[-1])

    for path, sha256 in progress(images):
        try:
            estimate = file_scale(path)
        except ImageError as exc:
            unreadable(path, exc)
            continue
        um = None if estimate.um_per_px is None else round(estimate.um_per_px, 5)
        used.append(ImageUsed(path.name, sha256, um, estimate.reason))
        pixels[path.name] = path
    if len(used) < MIN_IMAGES:
        raise CommissionError(
            f"only {len(used)} readable images; commissioning needs at least {MIN_IMAGES} "
            f"({ADVISED_IMAGES}-50 advised); no profile written"
        )
    scale = site_scale(used, stated_um_per_px)
    fields = []
    measured_at = REFERENCE_UM_PER_PX
    for image in progress(used):
        measures, at = measure_field(pixels[image.name], scale.um_per_px)
        measured_at = round(at or measured_at, 5)
        fields.append(measures)
    profile = make_profile(bundle_model_sha256, used, skipped, fields, scale, measured_at, gates_of(limits))
    return Commissioned(profile, tuple(fields))


def _column(result, roles: dict[str, str] | None) -> str:
    """A judged field's column in the before-and-after table (`roles`: a cell bundle's label roles)."""
    if roles is None:
        return result.status.value
    if result.status.value == "classified" and result.prediction is not None:
        return "ALL-like" if roles.get(result.prediction.label) == "all_like" else "cleared"
    return "rejected" if result.status.value == "rejected" else "referred"


def before_and_after(
    profile: SiteProfile, bundle: Path, fields: list[Path], limits: QualityThresholds
) -> BeforeAfter:
    """Each field judged as `classify` judges it, without the profile and with it
    (edge_all.site.before_after)."""
    from edge_all.runtime.classifier import Classifier
    from edge_all.runtime.images import load_rgb
    from edge_all.triage.cells import CellReader
    from edge_all.triage.decision import assess_field, reads_cells
    from edge_all.triage.site_limits import site_thresholds

    classifier = Classifier.load(bundle)
    cells = reads_cells(classifier)
    threshold = classifier.confidence_threshold
    own = {image.name: image for image in profile.images}
    site_scale = ScaleEstimate.given(profile.scale.um_per_px, source="site")
    site_limits = site_thresholds(limits, profile.quality)
    plain = CellReader(classifier) if cells else None
    sited = CellReader(classifier, profile.stain.statistics, profile.threshold.threshold) if cells else None
    roles = dict(classifier.manifest.label_roles) if cells and classifier.manifest else None
    before, after = [], []
    for path in fields:
        rgb = load_rgb(path)
        image = own[path.name]  # its own scale, as commissioning estimated it from its red cells
        scale = (
            ScaleEstimate.given(image.um_per_px, source="estimated")
            if image.um_per_px is not None
            else ScaleEstimate(None, "estimated", reason=image.reason)
        )
        if not cells and image.um_per_px is None:
            scale = None
        judged = assess_field(
            rgb, classifier, limits, threshold, scale=scale, reads_cells=cells, cell_reader=plain
        )
        before.append(_column(judged, roles))
        judged = assess_field(
            rgb, classifier, site_limits, threshold, scale=site_scale, reads_cells=cells, cell_reader=sited
        )
        after.append(_column(judged, roles))
    return BeforeAfter.count(CELL_COLUMNS if cells else FIELD_COLUMNS, before, after)


def _names(done: Commissioned) -> set[str]:
    return {image.name for image in done.profile.images}


def commission_site(
    site_dir: Path,
    images: list[tuple[Path, str]],
    manifest: BundleManifest,
    limits: QualityThresholds,
    stated_um_per_px: float | None = None,
    skipped: Iterable[SkippedImage] = (),
    skip: Callable[[SkippedImage], None] = lambda s: None,
    progress: Callable[[Iterable], Iterable] = lambda items: items,
    bundle: Path | None = None,
) -> tuple[Commissioned, Path]:
    """Commission on the `images` stored in `site_dir` and write its profile and report there (the
    CLI's and the station's one way); raises CommissionError, writing nothing, when refused.

    `bundle`: the bundle's folder, whose cell model checks the unfamiliarity threshold on the site's
    normal cells and the bundle's blasts (edge_all.triage.site_threshold); None: not checked."""
    done = commission(images, manifest.model_sha256, limits, stated_um_per_px, skipped, skip, progress)
    used = [path for path, _ in images if path.name in _names(done)]
    if not manifest.reads_cells:
        done = Commissioned(replace(done.profile, threshold=ThresholdCheck(note=NOT_CELLS)), done.fields)
    elif bundle is not None:
        checked, cells = check_threshold(done.profile, bundle, used)
        done = Commissioned(checked, done.fields, cells)
    else:
        note = "not checked (commissioned without the bundle's model at hand)"
        done = Commissioned(replace(done.profile, threshold=ThresholdCheck(note=note)), done.fields)
    if bundle is not None:  # the fields judged without the profile and with it (the report's table)
        shares = before_and_after(done.profile, bundle, used, limits)
        done = Commissioned(done.profile, done.fields, done.cells, shares)
    write_profile(site_dir, done.profile)
    report = write_report(
        site_dir, done.profile, done.fields, gates_of(limits), manifest.stain, done.cells, done.shares
    )
    return done, report
