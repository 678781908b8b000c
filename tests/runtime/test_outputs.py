"""Bundle format 2 on the device: calibrated probabilities, heat maps that line up with the picture,
test-time augmentation, the referral detector, and format-1 bundles that still load."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from edge_all.digest import sha256_file
from edge_all.runtime.bundle import (
    MANIFEST_FILE,
    REFERRAL_FILE,
    BundleError,
    Referral,
    read_manifest,
    write_manifest,
)
from edge_all.runtime.classifier import Classifier, ModelError, symmetries
from edge_all.runtime.heatmaps import overlay
from edge_all.runtime.referral import ReferralDetector
from edge_all.runtime.tensors import softmax

from .conftest import COLOURS, HEIGHT


def picture_with_square(colour: int, corner: tuple[int, int], size: int = HEIGHT) -> np.ndarray:
    """A dark picture with one bright square of a colour, a quarter of it, at `corner` (row, column)."""
    pixels = np.full((size, size, 3), 20, np.uint8)
    top, left = corner
    pixels[top : top + size // 2, left : left + size // 2, colour] = 250
    return pixels


def test_probabilities_are_softmax_of_logits_over_the_temperature(gap_bundle):
    classifier = Classifier.load(gap_bundle, threads=1)
    pixels = picture_with_square(0, (0, 0))
    logits = classifier.raw_outputs(pixels)["scores"]
    expected = softmax(logits / 2.0)  # bundle.json's temperature
    prediction = classifier.predict_pixels(pixels)
    assert prediction.label == "red" and np.allclose(prediction.probabilities, expected, atol=1e-6)
    assert not np.allclose(expected, softmax(logits), atol=1e-3)  # the temperature really changes them


@pytest.mark.parametrize("corner", [(0, 0), (0, HEIGHT // 2), (HEIGHT // 2, 0), (HEIGHT // 2, HEIGHT // 2)])
def test_the_heat_map_lights_up_where_the_colour_is(gap_bundle, corner):
    classifier = Classifier.load(gap_bundle, threads=1)
    prediction = classifier.predict_pixels(picture_with_square(1, corner), heatmap=True)
    assert prediction.label == "green"
    heatmap = prediction.heatmap
    assert heatmap.shape == (HEIGHT, HEIGHT) and heatmap.max() == pytest.approx(1.0)
    top, left, half = corner[0], corner[1], HEIGHT // 2
    inside = heatmap[top : top + half, left : left + half]
    outside = heatmap.copy()
    outside[top : top + half, left : left + half] = np.nan
    assert inside.min() > 0.9 and np.nanmax(outside) < 0.2


def test_tta_heat_maps_are_mapped_back_onto_the_original_picture(gap_bundle):
    classifier = Classifier.load(gap_bundle, threads=1)
    pixels = picture_with_square(2, (0, HEIGHT // 2))  # top right
    plain = classifier.predict_pixels(pixels, heatmap=True)
    averaged = classifier.predict_pixels(pixels, tta=True, heatmap=True)
    assert np.allclose(plain.heatmap, averaged.heatmap, atol=1e-5)  # each view's map, undone, agrees


def test_tta_answers_the_same_for_every_rotation_and_mirror(gap_bundle):
    classifier = Classifier.load(gap_bundle, threads=1)
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (HEIGHT, HEIGHT, 3), dtype=np.uint8)
    reference = classifier.predict_pixels(pixels, tta=True)
    for view in symmetries(pixels.shape):
        moved = classifier.predict_pixels(view.apply(pixels), tta=True)
        assert np.allclose(moved.probabilities, reference.probabilities, atol=1e-5)
    assert len(symmetries((8, 8, 3))) == 8 and len(symmetries((8, 12, 3))) == 4


def test_an_overlay_is_the_picture_with_the_map_blended_in():
    rgb = np.full((20, 30, 3), 100, np.uint8)
    heatmap = np.zeros((5, 5))
    heatmap[0, 0] = 1.0
    out = overlay(rgb, heatmap)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    assert not np.array_equal(out[0, 0], out[-1, -1])  # hot top-left corner, cold bottom-right


def test_heat_maps_need_a_bundle_that_can_draw_them(tiny_bundle):
    classifier = Classifier.load(tiny_bundle, threads=1)
    assert not classifier.can_draw_heatmaps
    with pytest.raises(ModelError, match="no heat-map weights"):
        classifier.predict_pixels(np.zeros(classifier.input.shape[1:], np.uint8), heatmap=True)


def clusters(rng, n: int, centre: float) -> tuple[np.ndarray, np.ndarray]:
    labels = np.arange(n) % 3
    features = rng.normal(0, 1, (n, 16)) + centre + 4 * np.eye(3, 16)[labels]
    return features, labels


def test_the_detector_refers_the_chosen_share_of_validation_and_far_images():
    rng = np.random.default_rng(0)
    train, labels = clusters(rng, 600, 0.0)
    val, _ = clusters(rng, 400, 0.0)
    far, _ = clusters(rng, 50, 12.0)
    detector = ReferralDetector.fit(train, labels, dimensions=8).with_threshold(val, 0.05)
    assert np.mean(detector.unfamiliarity(val) >= 1.0) == pytest.approx(0.05, abs=0.006)
    assert np.all(detector.unfamiliarity(far) > 3.0)
    fresh, _ = clusters(rng, 2000, 0.0)  # new images like the training ones: about the chosen share
    assert np.mean(detector.unfamiliarity(fresh) >= 1.0) < 0.1


def test_the_detector_file_round_trips_and_holds_no_pickles(tmp_path):
    rng = np.random.default_rng(1)
    train, labels = clusters(rng, 200, 0.0)
    detector = ReferralDetector.fit(train, labels, dimensions=4).with_threshold(train, 0.1)
    detector.save(tmp_path / "d.npz")
    loaded = ReferralDetector.load(tmp_path / "d.npz")
    assert np.allclose(loaded.unfamiliarity(train[:20]), detector.unfamiliarity(train[:20]))
    np.savez(tmp_path / "evil.npz", center=np.array([object()], dtype=object))
    with pytest.raises(ValueError):  # numpy refuses object arrays without allow_pickle
        ReferralDetector.load(tmp_path / "evil.npz")


def test_a_bundle_with_a_detector_scores_every_prediction(gap_bundle, tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(gap_bundle, bundle)
    classifier = Classifier.load(bundle, threads=1)
    rng = np.random.default_rng(2)
    pictures = [picture_with_square(i % 3, (0, 0)) for i in range(30)]
    features = np.stack([classifier.raw_outputs(p)["features"] for p in pictures])
    detector = ReferralDetector.fit(features + rng.normal(0, 0.01, features.shape), np.arange(30) % 3, 2)
    detector.with_threshold(features, 0.05).save(bundle / REFERRAL_FILE)
    manifest = read_manifest(bundle)
    referral = Referral(sha256_file(bundle / REFERRAL_FILE), "mahalanobis-pca")
    write_manifest(bundle, manifest.__class__(**{**manifest.__dict__, "referral": referral}))
    with_detector = Classifier.load(bundle, threads=1)
    familiar = with_detector.predict_pixels(pictures[0])
    stranger = with_detector.predict_pixels(np.full((HEIGHT, HEIGHT, 3), 250, np.uint8))  # all colours
    assert familiar.unfamiliarity < 1.0 and not familiar.referred
    assert stranger.unfamiliarity > 1.0 and stranger.referred
    (bundle / REFERRAL_FILE).write_bytes(b"\x00" + (bundle / REFERRAL_FILE).read_bytes()[1:])
    with pytest.raises(BundleError, match="does not match"):  # verified like the model itself
        Classifier.load(bundle, threads=1)


def test_a_format_1_bundle_still_loads(tiny_bundle, tmp_path):
    bundle = tmp_path / "v1"
    shutil.copytree(tiny_bundle, bundle)
    data = json.loads((bundle / MANIFEST_FILE).read_text())
    scores = data.pop("outputs")["scores"]
    data["output"] = {k: scores[k] for k in ("shape", "dtype", "quantization")}
    data["outputs"] = "probabilities"
    for key in ("trained_on", "calibration", "referral", "heatmap_sha256", "confidence_threshold"):
        data.pop(key)
    data["format_version"] = 1
    (bundle / MANIFEST_FILE).write_text(json.dumps(data))
    classifier = Classifier.load(bundle, threads=1)
    assert classifier.manifest.format_version == 1 and classifier.referral is None
    assert classifier.predict(np.asarray(np.full((30, 30, 3), (240, 10, 10), np.uint8))).label == COLOURS[0]
