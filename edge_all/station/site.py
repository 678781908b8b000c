"""The station's site: the commissioned profile every new slide is read with, and commissioning it again.

The station has one site folder (`serve --site SITE_DIR`; by default `site` beside the results
database, /var/lib/edge-all/site on an installed Pi). Until a ready profile made with the station's
bundle is there, the station is "not commissioned": every page says so, and slides are read without a
site (each field's own scale and stain), as before. The profile is read again for each new slide, so
commissioning from the Commission page takes effect on the next slide without a restart.

Commissioning from the page runs the CLI's own steps (edge_all.triage.commissioning.commission_site)
in a new folder beside the site; only a commissioning that made a profile replaces the site, the old
folder kept as `SITE_DIR.previous-<time>`. A refused one removes its new folder and touches nothing.
"""

from __future__ import annotations

import shutil
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

from edge_all.clock import now_iso
from edge_all.errors import EdgeAllError, UsageError
from edge_all.runtime.bundle import BundleManifest, is_bundle, read_manifest
from edge_all.runtime.choice import ModelChoice
from edge_all.site.profile import PROFILE_FILE, REPORT_FILE, Site, SiteProfile, SkippedImage, load_site
from edge_all.triage.commissioning import commission_site, store_images
from edge_all.triage.thresholds import QualityThresholds


@dataclass(frozen=True)
class SiteState:
    """The station's site now: `site` when commissioned, else `problem` says why not, in words."""

    site: Site | None
    problem: str | None = None

    @property
    def commissioned(self) -> bool:
        return self.site is not None


@dataclass(frozen=True)
class Commissioning:
    """What one commissioning from the page made: the profile (ready or not) and the files skipped."""

    profile: SiteProfile
    skipped: tuple[SkippedImage, ...]


class StationSite:
    """The station's site folder, read for every new slide, replaced by a commissioning."""

    def __init__(self, site_dir: Path, model: ModelChoice) -> None:
        self.site_dir = site_dir
        self.model = model
        self._busy = threading.Lock()  # one commissioning at a time

    def manifest(self) -> BundleManifest | None:
        """The station's bundle (None: a plain .tflite, which cannot be commissioned)."""
        path = self.model.path
        return read_manifest(path) if is_bundle(path) else None

    def current(self) -> SiteState:
        if not (self.site_dir / PROFILE_FILE).is_file():
            return SiteState(None, "no site profile yet: commission it on a normal control smear")
        try:
            manifest = self.manifest()
            if manifest is None:
                return SiteState(
                    None, f"{self.model.path} is a plain .tflite: a site is commissioned for a bundle"
                )
            return SiteState(load_site(self.site_dir, manifest.model_sha256))
        except EdgeAllError as exc:  # changed, another bundle's, not ready: said, and not used
            return SiteState(None, str(exc))

    @property
    def report(self) -> Path | None:
        path = self.site_dir / REPORT_FILE
        return path if path.is_file() else None

    def commission(
        self, images: list[Path], limits: QualityThresholds, stated_um_per_px: float | None = None
    ) -> Commissioning:
        """Commission on `images` (a slide's captured fields) and make it the station's site; raises
        CommissionError (refused: nothing touched) or UsageError (one is already running)."""
        manifest = self.manifest()
        if manifest is None:
            raise UsageError(f"{self.model.path} is a plain .tflite: a site is commissioned for a bundle")
        if not self._busy.acquire(blocking=False):
            raise UsageError("a commissioning is running: wait for it to finish")
        try:
            return self._commission(images, manifest, limits, stated_um_per_px)
        finally:
            self._busy.release()

    def _commission(
        self, images: list[Path], manifest: BundleManifest, limits: QualityThresholds, stated: float | None
    ) -> Commissioning:
        parent = self.site_dir.parent
        parent.mkdir(parents=True, exist_ok=True)
        staging = parent / f".{self.site_dir.name}.new-{uuid.uuid4().hex[:8]}"
        skipped: list[SkippedImage] = []
        try:
            stored = store_images(images, staging, skipped.append)
            bundle = self.model.path  # its cell model checks the site's threshold with its blasts
            done, _ = commission_site(
                staging, stored, manifest, limits, stated, list(skipped), skipped.append, bundle=bundle
            )
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        if self.site_dir.exists():
            stamp = now_iso()[:19].replace(":", "")  # 2026-12-08T013000, UTC
            self.site_dir.rename(parent / f"{self.site_dir.name}.previous-{stamp}-{uuid.uuid4().hex[:4]}")
        staging.rename(self.site_dir)
        return Commissioning(done.profile, done.profile.skipped)
