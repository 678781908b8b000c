"""`edge-all commission` run as a technician runs it: what it measured and its verdict, the images it
stores for `--again`, bad files skipped one line each, too few images refused, a far-off stated scale."""

from __future__ import annotations

import json
import shutil

import pytest

from edge_all.runtime.bundle import read_manifest
from edge_all.runtime.models import reference_bundle
from edge_all.site.profile import read_profile
from tests.cli_runner import run_edge_all
from tests.site.conftest import FIELDS, UM_PER_PX, write_fields


@pytest.fixture(scope="module")
def site(fields, tmp_path_factory):
    """A site commissioned from the fields and one file that is no image."""
    given = tmp_path_factory.mktemp("given")
    for path in fields.iterdir():
        shutil.copy(path, given / path.name)
    (given / "broken.jpg").write_bytes(b"not a picture")
    out = tmp_path_factory.mktemp("sites") / "clinic"
    done = run_edge_all("commission", given, "--out", out, "--stated-um-per-px", UM_PER_PX)
    return out, done


def test_it_prints_what_it_measured_and_the_verdict(site):
    out, done = site
    assert done.returncode == 3, done.stderr  # ready, but one input could not be read
    assert f"images: {FIELDS} measured, 1 skipped" in done.stdout
    assert "verdict: READY" in done.stdout
    profile = read_profile(out, read_manifest(reference_bundle()).model_sha256)
    assert f"scale: {profile.scale.um_per_px:.4f} um/px" in done.stdout
    assert abs(profile.scale.um_per_px - UM_PER_PX) / UM_PER_PX < 0.10
    assert profile.scale.stated_um_per_px == UM_PER_PX and profile.scale.stated_difference < 0.10
    assert "warning" not in done.stdout


def test_a_bad_file_is_one_line_skipped_and_recorded(site):
    out, done = site
    lines = [line for line in done.stderr.splitlines() if "broken.jpg" in line]
    assert len(lines) == 1 and lines[0].startswith("skipped: ") and "not an image" in lines[0]
    profile = read_profile(out)
    assert [s.file.rsplit("/", 1)[-1] for s in profile.skipped] == ["broken.jpg"]


def test_the_images_are_stored_in_the_site_with_their_sha256(site, fields):
    out, _ = site
    stored = sorted(p.name for p in (out / "images").iterdir())
    assert stored == sorted(p.name for p in fields.iterdir())
    from edge_all.digest import sha256_file

    profile = read_profile(out)
    assert {i.name: i.sha256 for i in profile.images} == {n: sha256_file(out / "images" / n) for n in stored}


def test_again_reruns_on_the_stored_images_for_another_bundle(site, cell_bundle, tmp_path):
    out, _ = site
    again = tmp_path / "clinic"
    shutil.copytree(out, again)
    before = read_profile(again)
    done = run_edge_all("commission", "--again", again, "--model", cell_bundle)
    assert done.returncode == 0, done.stderr  # only the stored images: the broken file never was
    after = read_profile(again, read_manifest(cell_bundle).model_sha256)
    assert after.bundle_model_sha256 != before.bundle_model_sha256
    assert after.images == before.images and after.scale == before.scale
    assert after.created > before.created and after.skipped == ()


def test_too_few_images_are_refused_and_no_profile_is_written(tmp_path):
    few = write_fields(tmp_path / "few", count=6)
    done = run_edge_all("commission", few, "--out", tmp_path / "site")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith("error: only 6 readable images")
    assert not (tmp_path / "site" / "site.json").exists()
    assert list((tmp_path / "site" / "images").iterdir()) == []  # the copies are removed


def test_fewer_than_thirty_images_are_not_ready(tmp_path):
    some = write_fields(tmp_path / "some", count=12)
    done = run_edge_all("commission", some, "--out", tmp_path / "site")
    assert done.returncode == 1
    assert "verdict: NOT READY" in done.stdout and "too few images: 12 read, 30-50 fields" in done.stdout
    assert read_profile(tmp_path / "site").verdict.ready is False


def test_fields_through_two_objectives_are_not_ready(tmp_path):
    mixed = write_fields(tmp_path / "mixed", count=16)  # 0.3 um/px
    write_fields(mixed, count=16, um_per_px=0.45, seed=100)  # half of them through another objective
    done = run_edge_all("commission", mixed, "--out", tmp_path / "site")
    assert done.returncode == 1
    assert "verdict: NOT READY" in done.stdout and "the fields' scales disagree" in done.stdout
    assert read_profile(tmp_path / "site").scale.spread > 0.25


def test_a_stated_scale_far_from_the_measured_one_is_a_warning_and_not_ready(fields, tmp_path):
    done = run_edge_all("commission", fields, "--out", tmp_path / "site", "--stated-um-per-px", 0.2)
    assert done.returncode == 1
    assert "warning: the measured scale is" in done.stdout and "over 10%" in done.stdout
    document = json.loads((tmp_path / "site" / "site.json").read_text())
    assert document["scale"]["stated_um_per_px"] == 0.2 and document["scale"]["stated_difference"] > 0.10


def test_a_folder_that_holds_a_commissioning_is_not_overwritten(site, fields):
    out, _ = site
    done = run_edge_all("commission", fields, "--out", out)
    assert done.returncode == 1 and "commission --again" in done.stderr


def _refused(done, site_dir, reason: str) -> None:
    """Refused in one line naming the reason, exit code 1, no profile, the copies removed."""
    assert done.returncode == 1, done.stdout + done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: refused, no profile written: ") and reason in last, done.stderr
    assert "verdict" not in done.stdout
    assert not (site_dir / "site.json").exists() and not (site_dir / "site.json.sha256").exists()
    assert list((site_dir / "images").iterdir()) == []


def test_blurred_fields_are_refused(tmp_path):
    from PIL import Image

    from tests.cells.smears import blurred, draw_field

    folder = tmp_path / "blurred"
    folder.mkdir()
    for i in range(FIELDS):
        Image.fromarray(blurred(draw_field(UM_PER_PX, size=(240, 180), seed=i), 6)).save(folder / f"{i}.jpg")
    done = run_edge_all("commission", folder, "--out", tmp_path / "site")
    _refused(done, tmp_path / "site", "most fields are out of focus (focus")
    assert "< 40 at 0.55 um/px): focus on the red cells' edges" in done.stderr


def _unsuitable(folder, kind: str):
    import numpy as np
    from PIL import Image, ImageFilter

    from tests.cells.smears import draw_field

    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(FIELDS):
        if kind == "unstained":  # the smear without its colour
            rgb = draw_field(UM_PER_PX, size=(240, 180), seed=i).mean(axis=2, keepdims=True).repeat(3, 2)
            image = Image.fromarray(rgb.astype("uint8"))
        else:  # a photograph of something else: smooth colour blobs
            blobs = Image.fromarray(rng.uniform(0, 255, (6, 8, 3)).astype("uint8"))
            image = blobs.resize((240, 180), Image.Resampling.BICUBIC).filter(ImageFilter.GaussianBlur(2))
        image.save(folder / f"{i}.jpg")
    return folder


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("unstained", "the fields are unstained (stained"),
        ("photo", "do not look like fields of a blood smear"),
    ],
)
def test_unsuitable_images_are_refused_and_nothing_is_touched(kind, reason, tmp_path):
    site_dir = tmp_path / "site"
    site_dir.mkdir()
    (site_dir / "notes.txt").write_text("kept")  # what was there before stays as it was
    done = run_edge_all("commission", _unsuitable(tmp_path / kind, kind), "--out", site_dir)
    _refused(done, site_dir, reason)
    assert (site_dir / "notes.txt").read_text() == "kept"
    assert sorted(p.name for p in site_dir.iterdir()) == ["images", "notes.txt"]


def test_a_real_smear_with_a_dim_lamp_is_not_ready_with_what_to_fix(tmp_path):
    from PIL import Image

    from tests.cells.smears import draw_field

    folder = tmp_path / "dim"
    folder.mkdir()
    for i in range(FIELDS):
        Image.fromarray(draw_field(UM_PER_PX, size=(240, 180), lamp=0.4, seed=i)).save(folder / f"{i}.jpg")
    done = run_edge_all("commission", folder, "--out", tmp_path / "site")
    assert done.returncode == 1 and "verdict: NOT READY" in done.stdout
    assert "fields are too dark" in done.stdout and "open the condenser" in done.stdout
    assert read_profile(tmp_path / "site").verdict.ready is False  # written, and --site refuses it


def test_a_shipped_bundle_is_commissioned_by_its_name(fields, tmp_path):
    """`--model cells` names the shipped cell bundle here as it does for classify (it was refused as a
    plain .tflite), and its blasts check the site's threshold."""
    done = run_edge_all("commission", fields, "--out", tmp_path / "site", "--model", "cells")
    assert "plain .tflite" not in done.stderr, done.stderr
    profile = read_profile(tmp_path / "site")
    assert profile.threshold.checked is True and profile.threshold.blasts == 300
