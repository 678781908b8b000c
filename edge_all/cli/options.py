"""Every option more than one command shares (the model, the database, the screening rule...), declared
once, and loading the model they name.

Only typer and the standard library at module level, so `edge-all --help` stays instant on a Pi.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from edge_all.runtime.choice import ModelChoice
    from edge_all.runtime.classifier import Classifier

ModelOption = Annotated[
    Path | None,
    typer.Option(
        "--model",
        "-m",
        help="A bundle directory, a plain .tflite model (with --labels), or a shipped bundle's name: "
        "reference (the default: trained on the public ALL dataset; see docs/model-card.md) or cells "
        "(reads each white cell; docs/model-card-cells.md).",
        show_default=False,
    ),
]
LabelsOption = Annotated[
    Path | None,
    typer.Option("--labels", help="Labels file for a plain .tflite: `label` or `index label` per line."),
]
ThreadsOption = Annotated[
    int | None, typer.Option("--threads", min=1, help="Interpreter threads (default: every core).")
]
EdgeTpuOption = Annotated[
    bool, typer.Option("--edgetpu", help="Run on a Coral Edge TPU (needs libedgetpu.so.1 and the device).")
]
ThresholdOption = Annotated[
    float | None,
    typer.Option(
        "--threshold",
        min=0.0,
        max=1.0,
        help="Below this confidence: 'uncertain: refer to a specialist' (default: the bundle's own).",
    ),
]
QualityConfigOption = Annotated[
    Path | None,
    typer.Option("--quality-config", help="JSON object of quality thresholds (see docs/capture.md)."),
]
UmPerPxOption = Annotated[
    float | None,
    typer.Option(
        "--um-per-px",
        min=0.01,
        max=10.0,
        help="The images' physical scale in micrometres per pixel (of this camera and objective, at the "
        "size the images are given). Default: estimated from each image's red cells; an image with too few "
        "(a single-cell crop) then has no scale. See docs/scale.md.",
        show_default=False,
    ),
]
SiteOption = Annotated[
    Path | None,
    typer.Option(
        "--site",
        metavar="SITE_DIR",
        help="A commissioned site (edge-all commission): its scale and stain reference read every image. "
        "See docs/commissioning.md.",
        show_default=False,
    ),
]
TtaOption = Annotated[
    bool, typer.Option("--tta", help="Average the 8 rotations and flips of each image (8x the time).")
]
DbOption = Annotated[
    Path | None,
    typer.Option(
        "--db",
        help="Results database (default: $XDG_DATA_HOME/edge-all/results.db, "
        "else ~/.local/share/edge-all/results.db).",
    ),
]
IntervalOption = Annotated[
    float | None,
    typer.Option(
        "--interval", min=0.0, help="Seconds between captures (default: 1 for cameras, 0 for files)."
    ),
]
MinAllLikeOption = Annotated[
    int,
    typer.Option(
        "--min-all-like",
        min=1,
        help="Screening call: this many confidently ALL-like fields make the slide 'refer'.",
    ),
]
MinGoodFieldsOption = Annotated[
    int,
    typer.Option(
        "--min-good-fields",
        min=1,
        help="Screening call: 'no ALL-like cells' only after this many good fields.",
    ),
]


def load_model(choice: ModelChoice) -> Classifier:
    """Load the model the options chose (its errors reach the user as one line, via edge_all.cli.main),
    saying on stderr what a user must know before trusting it (a synthetic demo bundle, say)."""
    return choice.load(warn=lambda warning: typer.echo(f"warning: {warning}", err=True))


def site_profile(site: Path | None, classifier: Classifier, um_per_px: float | None):
    """The commissioned site `--site` names (edge_all.site.profile.Site), checked against the bundle
    (None without --site)."""
    if site is None:
        return None
    from edge_all.errors import UsageError
    from edge_all.site.profile import load_site

    if um_per_px is not None:
        raise UsageError("give --site or --um-per-px, not both (the site's scale is its microscope's)")
    if classifier.manifest is None:
        raise UsageError(
            f"--site: {classifier.model_path} is a plain .tflite; a site is commissioned for a bundle"
        )
    return load_site(site, classifier.manifest.model_sha256)
