"""The site profile, SITE_DIR/site.json, and the sha256 beside it (site.json.sha256).

What a clinic's commissioning measured (edge_all.site.commission): the scale of its microscope and
camera, the stain reference of its smears, the quality baselines of a good field on it, the images it
was measured on and the bundle it was made with. The reader refuses a profile that was changed after
it was written (its sha256), one of another format, and one made with another bundle (the scale and
baselines hold for any bundle, but the stain reference and the verdict were judged for that one):
"commission again", which `edge-all commission --again SITE_DIR` does on the stored images.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from edge_all.cells.stain import LabStatistics
from edge_all.digest import SHA256_HEX, sha256_bytes
from edge_all.errors import EdgeAllError
from edge_all.jsonfile import JsonObject, parse_json_object
from edge_all.regular_files import read_regular
from edge_all.safe_text import printable
from edge_all.safe_write import write_file

T = TypeVar("T")

FORMAT_VERSION = 2  # 2: the unfamiliarity threshold's check (`threshold`); 1 is still read
READABLE_VERSIONS = (1, 2)
PROFILE_FILE = "site.json"
DIGEST_FILE = "site.json.sha256"
IMAGES_DIR = "images"  # the commissioning images, copied, so commissioning can be run again
REPORT_FILE = "report.html"


class SiteError(EdgeAllError):
    """A site profile that is missing, changed, of another format, or made with another bundle."""


@dataclass(frozen=True)
class ImageUsed:
    """One commissioning image, as stored in SITE_DIR/images/ (`name`), and its content's sha256."""

    name: str
    sha256: str
    um_per_px: float | None  # its own red cells' estimate; None: none (see `reason`)
    reason: str | None = None  # why it gave no scale


@dataclass(frozen=True)
class SkippedImage:
    """An image given that could not be read (not copied, not measured)."""

    file: str
    reason: str


@dataclass(frozen=True)
class SiteScale:
    """The site's scale: the median of the images' red-cell estimates, with their spread.

    `spread` is the interquartile range of those estimates relative to the median; `stated_um_per_px`
    is what the technician stated for the objective and camera (None: not stated), and
    `stated_difference` how far the measured scale is from it (relative to the stated one).
    """

    um_per_px: float
    spread: float
    images_measured: int  # images that gave a scale
    images_total: int  # images read
    stated_um_per_px: float | None = None
    stated_difference: float | None = None


@dataclass(frozen=True)
class StainReference:
    """The site's LAB statistics (torchstain's Reinhard `fit`, the median over its fields)."""

    method: str  # "reinhard"
    library: str  # "torchstain"
    means: tuple[float, float, float]
    stds: tuple[float, float, float]
    images: int

    @property
    def statistics(self) -> LabStatistics:
        return LabStatistics(self.means, self.stds)


@dataclass(frozen=True)
class Baseline:
    """One quality metric over the site's fields: its median and its 5th and 95th percentiles."""

    median: float
    p5: float
    p95: float


@dataclass(frozen=True)
class QualityBaselines:
    """What a good field looks like on this microscope, measured at `um_per_px` (the reference scale)."""

    um_per_px: float
    focus: Baseline
    glass: Baseline  # the lamp's level through bare glass (luma 0-255)
    brightness: Baseline  # the mean luma: the exposure
    stained: Baseline  # the share of stained pixels


@dataclass(frozen=True)
class ThresholdCheck:
    """The unfamiliarity threshold this site reads cells with, and how it was checked.

    `threshold` is on the referral detector's scale (1.0: the bundle's own; a site may only lower it,
    never raise it). `checked` False: not checked (`note` says why: no blasts in the bundle, not a cell
    bundle) and the bundle's threshold stands. The blasts are the home lab's made to look like this
    site (edge_all.triage.blasts); `blasts_flagged` is their share ALL-like or referred at `threshold`,
    `blasts_flagged_at_bundle` at the bundle's own; the site's normal cells (those found in the
    commissioning fields) are counted by what they came to at `threshold`.
    """

    threshold: float = 1.0
    bundle_threshold: float = 1.0
    checked: bool = False
    note: str | None = None
    blasts: int = 0
    blasts_flagged: float | None = None
    blasts_flagged_at_bundle: float | None = None
    blur_sigma_px: float | None = None
    noise_sigma: float | None = None
    normal_cells: int = 0
    normal_cleared: float | None = None
    normal_referred: float | None = None
    normal_all_like: float | None = None


NOT_CHECKED_OLD = "not checked (a profile of format 1, made before the check existed)"


@dataclass(frozen=True)
class Verdict:
    """Ready, or not with what to fix (`reasons`); `advice` is worth doing even when ready."""

    ready: bool
    reasons: tuple[str, ...] = ()
    advice: tuple[str, ...] = ()


@dataclass(frozen=True)
class SiteProfile:
    """Everything site.json records."""

    created: str  # edge_all.clock.now_iso
    bundle_model_sha256: str  # the model_sha256 of the bundle it was made with
    images: tuple[ImageUsed, ...]
    skipped: tuple[SkippedImage, ...]
    scale: SiteScale
    stain: StainReference
    quality: QualityBaselines
    verdict: Verdict
    threshold: ThresholdCheck = ThresholdCheck(note="not checked")
    format_version: int = FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["stain"]["means"] = list(self.stain.means)
        data["stain"]["stds"] = list(self.stain.stds)
        return {"format_version": data.pop("format_version"), **data}

    @classmethod
    def from_dict(cls, data: JsonObject) -> SiteProfile:
        data.require_finite()
        version = data.integer("format_version")
        if version not in READABLE_VERSIONS:
            readable = " and ".join(map(str, READABLE_VERSIONS))
            raise data.fail(
                "format_version", f"this edge-all reads site profile formats {readable}, not {version}"
            )
        scale, stain, quality, verdict = (data.object(k) for k in ("scale", "stain", "quality", "verdict"))
        return cls(
            created=data.text("created"),
            bundle_model_sha256=_sha256(data, "bundle_model_sha256"),
            images=tuple(
                _image(JsonObject.of(item, data.where, SiteError)) for item in _list(data, "images")
            ),
            skipped=tuple(
                SkippedImage(o.text("file"), o.text("reason"))
                for o in (JsonObject.of(item, data.where, SiteError) for item in _list(data, "skipped"))
            ),
            scale=SiteScale(
                _positive(scale, "um_per_px"),
                scale.number("spread", minimum=0.0),
                scale.integer("images_measured", minimum=0),
                scale.integer("images_total", minimum=0),
                _nullable(scale, "stated_um_per_px", _positive),
                _nullable(scale, "stated_difference", lambda doc, key: doc.number(key, minimum=0.0)),
            ),
            stain=StainReference(
                _exactly(stain, "method", "reinhard"),
                _exactly(stain, "library", "torchstain"),
                _three(stain, "means"),
                _three(stain, "stds"),
                stain.integer("images", minimum=0),
            ),
            quality=QualityBaselines(
                _positive(quality, "um_per_px"),
                *(_baseline(quality.object(k)) for k in ("focus", "glass", "brightness", "stained")),
            ),
            verdict=Verdict(
                _boolean(verdict, "ready"), tuple(verdict.texts("reasons")), tuple(verdict.texts("advice"))
            ),
            threshold=_threshold(data.object("threshold"))
            if version >= 2
            else ThresholdCheck(note=NOT_CHECKED_OLD),
            format_version=version,
        )


def _list(doc: JsonObject, key: str) -> list:
    value = doc.value(key)
    if not isinstance(value, list):
        raise doc.fail(key, "expected a list")
    return value


def _boolean(doc: JsonObject, key: str) -> bool:
    value = doc.value(key)
    if not isinstance(value, bool):
        raise doc.fail(key, "expected true or false")
    return value


def _nullable(doc: JsonObject, key: str, read: Callable[[JsonObject, str], T]) -> T | None:
    """A key site.json always has, whose value may be null (not measured, not stated)."""
    return None if doc.value(key) is None else read(doc, key)


def _positive(doc: JsonObject, key: str) -> float:
    value = doc.number(key)
    if value <= 0:
        raise doc.fail(key, f"must be more than 0, not {value:g}")
    return value


def _exactly(doc: JsonObject, key: str, expected: str) -> str:
    value = doc.text(key)
    if value != expected:
        raise doc.fail(key, f"this edge-all reads {expected!r} here, not {printable(repr(value[:80]))}")
    return value


def _sha256(doc: JsonObject, key: str) -> str:
    value = doc.text(key)
    if not SHA256_HEX.fullmatch(value):
        raise doc.fail(key, f"expected a sha256 (64 lowercase hex digits), got {printable(repr(value[:80]))}")
    return value


def _three(doc: JsonObject, key: str) -> tuple[float, float, float]:
    value = doc.value(key)
    if not isinstance(value, list) or len(value) != 3:
        raise doc.fail(key, "expected a list of 3 numbers")
    numbers = [JsonObject({"v": v}, doc.where, doc.error, f"{key}.").number("v") for v in value]
    return (numbers[0], numbers[1], numbers[2])


def _baseline(doc: JsonObject) -> Baseline:
    return Baseline(doc.number("median"), doc.number("p5"), doc.number("p95"))


def _threshold(doc: JsonObject) -> ThresholdCheck:
    shares = {
        key: _nullable(doc, key, _fraction)
        for key in (
            "blasts_flagged",
            "blasts_flagged_at_bundle",
            "normal_cleared",
            "normal_referred",
            "normal_all_like",
        )
    }
    spreads = {key: _nullable(doc, key, _not_negative) for key in ("blur_sigma_px", "noise_sigma")}
    threshold = doc.number("threshold", minimum=0.0)
    bundle = doc.number("bundle_threshold", minimum=0.0)
    if threshold > bundle:
        raise doc.fail(
            "threshold", f"{threshold:g} is above the bundle's {bundle:g}: a site never loosens it"
        )
    return ThresholdCheck(
        threshold, bundle, _boolean(doc, "checked"), _nullable(doc, "note", JsonObject.text),
        doc.integer("blasts", minimum=0), normal_cells=doc.integer("normal_cells", minimum=0),
        **shares, **spreads,
    )  # fmt: skip


def _fraction(doc: JsonObject, key: str) -> float:
    value = doc.number(key, minimum=0.0)
    if value > 1:
        raise doc.fail(key, f"a share is at most 1, not {value:g}")
    return value


def _not_negative(doc: JsonObject, key: str) -> float:
    return doc.number(key, minimum=0.0)


def _image(doc: JsonObject) -> ImageUsed:
    name = doc.text("name")
    if not name:
        raise doc.fail("name", "an image needs its file name")
    reason = _nullable(doc, "reason", JsonObject.text)
    return ImageUsed(name, _sha256(doc, "sha256"), _nullable(doc, "um_per_px", _positive), reason)


def write_profile(site_dir: Path, profile: SiteProfile) -> Path:
    """Write site.json, then its sha256 beside it; each replaced whole."""
    data = (json.dumps(profile.to_dict(), indent=2) + "\n").encode("utf-8")
    path = site_dir / PROFILE_FILE
    write_file(path, data, "the site profile")
    write_file(site_dir / DIGEST_FILE, f"{sha256_bytes(data)}  {PROFILE_FILE}\n", "the site profile's digest")
    return path


@dataclass(frozen=True)
class Site:
    """A commissioned site as a reading uses it: its folder, its profile, and the sha256 of site.json
    (recorded with every result read with it, so a result names the profile it was read with)."""

    directory: Path
    profile: SiteProfile
    sha256: str


def read_profile(site_dir: str | Path, bundle_model_sha256: str | None = None) -> SiteProfile:
    """The profile in `site_dir`, refused (SiteError, one line) when it was changed since it was
    written, is of another format, or (given `bundle_model_sha256`) was made with another bundle."""
    return _read_site(Path(site_dir), bundle_model_sha256).profile


def _read_site(site_dir: Path, bundle_model_sha256: str | None) -> Site:
    path = site_dir / PROFILE_FILE
    data = read_regular(path, "site profile", SiteError)
    recorded = read_regular(site_dir / DIGEST_FILE, "site profile's sha256", SiteError).decode(
        "ascii", "replace"
    )
    expected = recorded.split()[0] if recorded.split() else ""
    actual = sha256_bytes(data)
    if actual != expected:
        raise SiteError(
            f"{path}: sha256 {actual[:12]}... does not match {DIGEST_FILE} ({expected[:12]}...); "
            "the profile was changed after commissioning: commission again"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SiteError(f"{path}: not UTF-8 text") from None
    profile = SiteProfile.from_dict(parse_json_object(text, str(path), SiteError))
    if bundle_model_sha256 is not None and profile.bundle_model_sha256 != bundle_model_sha256:
        raise SiteError(
            f"{path}: made with another bundle (model sha256 {profile.bundle_model_sha256[:12]}..., this one "
            f"{bundle_model_sha256[:12]}...): commission again (edge-all commission --again {site_dir})"
        )
    return Site(site_dir, profile, actual)


def load_site(site_dir: str | Path, bundle_model_sha256: str) -> Site:
    """The site `--site` reads fields with: read_profile's checks, and refused when not ready."""
    site = _read_site(Path(site_dir), bundle_model_sha256)
    profile = site.profile
    if not profile.verdict.ready:
        reasons = "; ".join(profile.verdict.reasons)
        raise SiteError(
            f"{Path(site_dir) / PROFILE_FILE}: this site is not ready ({reasons}); "
            "fix that and commission again"
        )
    return site
