"""`--site SITE_DIR` on classify and capture-and-classify: the site's scale is the scale source "site",
its stain reference standardises every field where the bundle reads cells, and a site made with another
bundle, changed, or not ready is refused in one line."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from edge_all.cells.stain import LabStatistics, StainNormaliser, lab_statistics
from edge_all.digest import sha256_file
from edge_all.results.store import ResultsStore
from edge_all.runtime.bundle import Stain
from edge_all.site.profile import read_profile
from edge_all.triage.thresholds import QualityThresholds
from tests.cells.conftest import cells_bundle
from tests.cells.smears import draw_field
from tests.cli_runner import run_edge_all
from tests.site.conftest import UM_PER_PX

TARGET = {"method": "reinhard", "library": "torchstain", "target_means": [80.0, 12.0, -8.0],
          "target_stds": [12.0, 9.0, 8.0]}  # fmt: skip


@pytest.fixture(scope="module")
def cell_site(fields, cell_bundle, tmp_path_factory):
    out = tmp_path_factory.mktemp("cell-site") / "clinic"
    done = run_edge_all("commission", fields, "--out", out, "--model", cell_bundle)
    assert done.returncode == 0, done.stdout + done.stderr
    return out


@pytest.fixture(scope="module")
def field(tmp_path_factory):
    from PIL import Image

    path = tmp_path_factory.mktemp("slide") / "field.jpg"
    Image.fromarray(draw_field(UM_PER_PX, size=(240, 180), white_cells=2, seed=99)).save(path, quality=92)
    return path


def _scale(done) -> dict:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[0])["scale"]


def test_site_makes_the_sites_scale_the_scale_source(cell_site, cell_bundle, field):
    without = _scale(run_edge_all("classify", field, "--model", cell_bundle, "--json"))
    assert without["source"] == "estimated"
    with_site = _scale(run_edge_all("classify", field, "--model", cell_bundle, "--json", "--site", cell_site))
    assert with_site == {"um_per_px": read_profile(cell_site).scale.um_per_px, "source": "site"}
    done = run_edge_all("classify", field, "--model", cell_bundle, "--json", "--site", cell_site)
    assert json.loads(done.stdout.splitlines()[0])["site_sha256"] == sha256_file(cell_site / "site.json")


def test_site_reads_cells_with_the_sites_stain_reference(cell_site, colour_models, field, tmp_path):
    stained = cells_bundle(colour_models["float32"], tmp_path / "stained", stain=TARGET)
    done = run_edge_all("classify", field, "--model", stained, "--json", "--site", cell_site)
    result = json.loads(done.stdout.splitlines()[0])
    assert done.returncode == 0 and result["scale"]["source"] == "site" and result["cells"]


def test_a_site_made_with_another_bundle_is_refused(fields, cell_bundle, field, tmp_path):
    site = tmp_path / "reference-site"
    assert run_edge_all("commission", fields, "--out", site).returncode == 0  # the reference bundle
    done = run_edge_all("classify", field, "--model", cell_bundle, "--site", site)
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()[-1:]
    assert line.startswith("error: ") and "made with another bundle" in line and "commission again" in line


def test_a_changed_site_is_refused(cell_site, cell_bundle, field, tmp_path):
    changed = tmp_path / "changed"
    shutil.copytree(cell_site, changed)
    text = (changed / "site.json").read_text().replace('"ready": true', '"ready": false')
    (changed / "site.json").write_text(text)
    done = run_edge_all("classify", field, "--model", cell_bundle, "--site", changed)
    assert done.returncode == 1 and "does not match site.json.sha256" in done.stderr


def test_site_and_um_per_px_together_are_a_usage_error(cell_site, cell_bundle, field):
    done = run_edge_all("classify", field, "--model", cell_bundle, "--site", cell_site, "--um-per-px", 0.3)
    assert done.returncode == 2 and "--site or --um-per-px, not both" in done.stderr


def test_capture_and_classify_reads_frames_at_the_sites_scale(cell_site, cell_bundle, field, tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    shutil.copy(field, folder / "field.jpg")
    done = run_edge_all(
        "capture-and-classify", "--camera", f"folder:{folder}", "--model", cell_bundle, "--count", "1",
        "--db", tmp_path / "results.db", "--site", cell_site, "--settle", "0", "--duration", "120",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with ResultsStore.open(tmp_path / "results.db", create=False) as store:
        (row,) = store.captures()
    assert row["scale_source"] == "site" and row["status"] != "error"
    assert row["um_per_px"] == pytest.approx(read_profile(cell_site).scale.um_per_px, rel=1e-4)
    with ResultsStore.open(tmp_path / "results.db", create=False) as store:
        (session,) = store.sessions()
    assert session["site_sha256"] == sha256_file(cell_site / "site.json")  # the profile it read with
    limits = json.loads(session["quality_thresholds"])  # the gate's limits relative to the site
    assert limits["min_focus"] > QualityThresholds().min_focus
    exported = run_edge_all("results", "export", "--csv", tmp_path / "r.csv", "--db", tmp_path / "results.db")
    assert (
        exported.returncode == 0 and sha256_file(cell_site / "site.json") in (tmp_path / "r.csv").read_text()
    )


def test_the_sites_statistics_standardise_as_torchstain_does_with_the_images_own():
    """Given the image's own statistics as the site's, the normaliser is torchstain's Reinhard."""
    rgb = draw_field(0.5, size=(96, 80), seed=3)
    stain = Stain("reinhard", "torchstain", tuple(TARGET["target_means"]), tuple(TARGET["target_stds"]))
    own = lab_statistics(rgb)
    per_image = StainNormaliser(stain)(rgb).astype(int)
    with_site = StainNormaliser(stain, own)(rgb).astype(int)
    assert np.abs(per_image - with_site).max() <= 1
    other = StainNormaliser(stain, LabStatistics(own.means, tuple(2 * s for s in own.stds)))(rgb)
    assert np.abs(other.astype(int) - per_image).mean() > 1  # a site's other spread changes the image


def test_info_shows_the_site(cell_site, cell_bundle):
    done = run_edge_all("info", "--model", cell_bundle, "--site", cell_site, "--json")
    assert done.returncode == 0, done.stderr
    site = json.loads(done.stdout)["site"]
    assert site["um_per_px"] == read_profile(cell_site).scale.um_per_px and site["ready"] is True
    text = run_edge_all("info", "--model", cell_bundle, "--site", cell_site)
    assert f"site:   {cell_site}, commissioned" in text.stdout
    assert f"profile sha256 {sha256_file(cell_site / 'site.json')}" in text.stdout
    assert site["sha256"] == sha256_file(cell_site / "site.json")
    assert site["unfamiliarity_threshold"] == 1.0
    assert "unfamiliarity threshold 1 (not checked (the bundle carries no blasts))" in text.stdout


def test_commission_needs_a_bundle_not_a_plain_model(fields, colour_models, tmp_path):
    done = run_edge_all("commission", fields, "--out", tmp_path / "s", "--model", colour_models["float32"])
    assert done.returncode == 2 and "commissioning needs a bundle directory" in done.stderr
