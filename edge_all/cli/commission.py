"""`edge-all commission`: measure a new site (microscope, camera, stain) on a normal control smear.

Only typer and the standard library at module level, so `edge-all --help` stays instant on a Pi.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from edge_all.cli.options import QualityConfigOption
from edge_all.errors import FileError, UsageError
from edge_all.exit_codes import EPILOG, ExitCode


def commission(
    images: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="IMAGES...",
            help="30-50 fields of a normal control smear (files, folders or globs), photographed with the "
            "objective and camera setting slides will be read with.",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="The site folder: site.json, its sha256, report.html, images/."),
    ] = None,
    again: Annotated[
        Path | None,
        typer.Option(
            "--again",
            metavar="SITE_DIR",
            help="Commission again on the images a previous commissioning stored in SITE_DIR/images/ "
            "(after a new bundle, say).",
        ),
    ] = None,
    stated_um_per_px: Annotated[
        float | None,
        typer.Option(
            "--stated-um-per-px",
            min=0.01,
            max=10.0,
            help="The scale the objective and camera should give (um per pixel); the measured one is "
            "checked against it.",
        ),
    ] = None,
    model: Annotated[
        Path | None,
        typer.Option("--model", "-m", help="The bundle slides will be read with (default: the reference)."),
    ] = None,
    quality_config: QualityConfigOption = None,
) -> None:
    """Build a site profile (scale, stain reference, quality baselines) and say whether the site is ready.

    Writes SITE_DIR/site.json, site.json.sha256 and report.html; `--site SITE_DIR` on classify and
    capture-and-classify then reads every field with them. See docs/commissioning.md.
    """
    from edge_all.errors import EdgeAllError
    from edge_all.runtime.bundle import is_bundle, read_manifest
    from edge_all.runtime.choice import ModelChoice
    from edge_all.runtime.inputs import expand_inputs
    from edge_all.site.commission import CommissionError
    from edge_all.site.profile import SkippedImage, read_profile
    from edge_all.triage.commissioning import commission_site, store_images, stored_images
    from edge_all.triage.thresholds import QualityThresholds

    if (again is None) == (out is None):
        raise UsageError("give IMAGES... --out SITE_DIR, or --again SITE_DIR")
    if again is not None and images:
        raise UsageError("--again re-runs on the stored images; give no IMAGES with it")
    bundle = ModelChoice(model).path  # a path, a shipped bundle's name (cells), or the reference
    if not is_bundle(bundle):
        raise UsageError(f"{bundle}: commissioning needs a bundle directory (a plain .tflite names no scale)")
    manifest = read_manifest(bundle)
    limits = QualityThresholds.from_file(quality_config) if quality_config else QualityThresholds()
    skipped: list[SkippedImage] = []

    def skip(item: SkippedImage) -> None:
        skipped.append(item)
        typer.echo(f"skipped: {item.reason}", err=True)

    if again is not None:
        site_dir = again
        if stated_um_per_px is None and (site_dir / "site.json").is_file():
            try:
                stated_um_per_px = read_profile(site_dir).scale.stated_um_per_px
            except EdgeAllError:  # a damaged old profile: it is being replaced, its stated scale is lost
                stated_um_per_px = None
        stored = stored_images(site_dir, skip)
    else:
        assert out is not None
        site_dir = out
        if not images:
            raise UsageError("give the commissioning images (IMAGES...)")
        inputs = expand_inputs(images)
        for path, message in inputs.problems:
            skip(SkippedImage(str(path), message))
        try:
            site_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FileError(f"{site_dir}: cannot create the site folder ({exc.strerror or exc})") from None
        stored = store_images(inputs.files, site_dir, skip)

    def progress(items):
        items = list(items)
        with typer.progressbar(
            items, label="Measuring", file=sys.stderr, hidden=not sys.stderr.isatty()
        ) as bar:
            yield from bar

    try:
        done, report = commission_site(
            site_dir, stored, manifest, limits, stated_um_per_px, list(skipped), skip, progress, bundle
        )
    except CommissionError:
        if again is None:  # refused: the copies this run made go, so the folder can be used again
            for path, _ in stored:
                path.unlink(missing_ok=True)
        raise
    profile = done.profile
    typer.echo(_summary(profile, site_dir, report))
    if not profile.verdict.ready:
        raise typer.Exit(int(ExitCode.ERROR))
    if profile.skipped:
        raise typer.Exit(int(ExitCode.SOME_INPUTS_FAILED))


def _summary(profile, site_dir: Path, report: Path) -> str:
    from edge_all.site.commission import MAX_STATED_DIFFERENCE

    s, q, st = profile.scale, profile.quality, profile.stain
    lines = [
        f"site profile: {site_dir / 'site.json'} (report: {report})",
        f"images: {len(profile.images)} measured, {len(profile.skipped)} skipped",
        f"scale: {s.um_per_px:.4f} um/px, spread {s.spread:.1%}, from {s.images_measured} of "
        f"{s.images_total} images",
    ]
    if s.stated_um_per_px is not None:
        lines.append(f"stated scale: {s.stated_um_per_px:.4f} um/px ({s.stated_difference:.1%} apart)")
        if s.stated_difference > MAX_STATED_DIFFERENCE:
            lines.append(
                f"warning: the measured scale is {s.stated_difference:.0%} from the stated one (over "
                f"{MAX_STATED_DIFFERENCE:.0%}): check the objective and the camera's resolution"
            )
    lines += [
        f"focus at {q.um_per_px:.3g} um/px: median {q.focus.median:.1f} (5th-95th percentile "
        f"{q.focus.p5:.1f}-{q.focus.p95:.1f})",
        f"glass: median {q.glass.median:.0f}; exposure (mean luma): median {q.brightness.median:.0f}; "
        f"stained: median {q.stained.median:.2%}",
        "stain reference (LAB): means " + ", ".join(f"{v:.2f}" for v in st.means)
        + "; spreads " + ", ".join(f"{v:.2f}" for v in st.stds),
    ]  # fmt: skip
    lines.append(_threshold_line(profile.threshold))
    if profile.verdict.ready:
        lines.append("verdict: READY")
    else:
        lines.append("verdict: NOT READY")
        lines += [f"  - {reason}" for reason in profile.verdict.reasons]
    lines += [f"  advice: {a}" for a in profile.verdict.advice]
    return "\n".join(lines)


def _threshold_line(check) -> str:
    if not check.checked:
        return f"unfamiliarity threshold: {check.threshold:.2f}, the bundle's: {check.note}"
    line = (
        f"unfamiliarity threshold: {check.threshold:.3g} (the bundle's {check.bundle_threshold:.3g}); "
        f"{check.blasts_flagged:.1%} of {check.blasts} home-lab blasts made to look like this site flagged "
        f"(blur sigma {check.blur_sigma_px:g} px, noise {check.noise_sigma:g})"
    )
    if check.normal_cells:
        line += (
            f"; the site's {check.normal_cells} normal cells: {check.normal_cleared:.1%} cleared, "
            f"{check.normal_referred:.1%} referred, {check.normal_all_like:.1%} ALL-like"
        )
    return line


def register(app: typer.Typer) -> None:
    """Add `commission` to the `edge-all` app."""
    app.command("commission", epilog=EPILOG)(commission)
