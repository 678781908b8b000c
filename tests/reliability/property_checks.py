"""Property-based tests (Hypothesis): whatever a file holds, the device answers with a result or one
clean project error (an EdgeAllError), in bounded memory, never with another exception.

Fed: random bytes (bare, and behind real image-format signatures, to reach the decoders), random
valid-but-odd images (1x1 up to a megapixel in the search, any aspect ratio, every Pillow mode;
the pixel limit itself and the extreme strips have their own examples below), and random JSON as
bundle.json and as a quality config. Paths: classify's (edge_all.runtime.images + Classifier.predict on
the suite's real int8 bundle), the quality gate, and the bundle and config readers.

Memory: this module runs in a fresh process (no TensorFlow, about 0.2 GiB of address space)
limited to 2 GiB of address space (RLIMIT_AS) by tests/reliability/test_properties.py, so an input
that asks for gigabytes fails a check with a MemoryError (or an ImageError that says so) instead of
passing on a big machine or getting the run killed on a small one. (In the test process itself
TensorFlow has reserved many GiB of address space its allocator reuses, so a limit there proves
nothing.) Examples are derandomized and few: CI is deterministic, and this adds well under 30 s.
Run alone: EDGE_ALL_TEST_BUNDLE=BUNDLE_DIR pytest tests/reliability/property_checks.py
"""

from __future__ import annotations

import io
import json
import math
import os
import shutil
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from edge_all.errors import EdgeAllError
from edge_all.runtime.bundle import MANIFEST_FILE, BundleError, read_manifest
from edge_all.runtime.classifier import Classifier, Prediction
from edge_all.runtime.images import MAX_PIXELS, ImageError, load_rgb, open_image
from edge_all.triage.quality import assess
from edge_all.triage.thresholds import QualityConfigError, QualityThresholds

CHECKS = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=40,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
MODES = ["1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr", "LAB", "HSV",
         "I", "F", "I;16", "I;16L", "I;16B", "I;16N"]  # fmt: skip
SIGNATURES = [b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*",
              b"RIFF\x00\x00\x00\x00WEBPVP8 ", b"\x00\x00\x00\x0cjP  "]  # fmt: skip


@pytest.fixture(scope="module")
def int8_bundle() -> Path:
    """The suite's int8 bundle, made by the parent test (no training in this process)."""
    if "EDGE_ALL_TEST_BUNDLE" not in os.environ:
        pytest.skip("run through tests/reliability/test_properties.py (it sets EDGE_ALL_TEST_BUNDLE)")
    return Path(os.environ["EDGE_ALL_TEST_BUNDLE"])


@pytest.fixture(scope="module")
def classifier(int8_bundle) -> Classifier:
    return Classifier.load(int8_bundle, threads=1)


def not_about_memory(error: EdgeAllError) -> None:
    assert "MemoryError" not in str(error), error


def check_prediction(prediction: Prediction, classifier: Classifier) -> None:
    assert prediction.label in classifier.labels
    assert prediction.probabilities.shape == (len(classifier.labels),)
    assert math.isclose(float(prediction.probabilities.sum()), 1.0, abs_tol=0.02)


# ---- random bytes --------------------------------------------------------------------------------
@CHECKS
@given(signature=st.sampled_from(SIGNATURES), body=st.binary(max_size=2048))
def test_random_bytes_are_a_result_or_one_image_error(tmp_path, classifier, signature, body):
    path = tmp_path / "field.png"
    path.write_bytes(signature + body)
    try:
        prediction = classifier.predict(path)
    except ImageError as error:
        assert str(error).startswith(f"{path}: ") and "\n" not in str(error)
        not_about_memory(error)
        return
    check_prediction(prediction, classifier)


# ---- valid but odd images ------------------------------------------------------------------------
@st.composite
def odd_images(draw) -> Image.Image:
    """Any mode, any aspect ratio, 1 to a million pixels, random content."""
    mode = draw(st.sampled_from(MODES))
    width = draw(st.integers(1, 1 << 20))
    height = draw(st.integers(1, max(1, (1 << 20) // width)))
    if draw(st.booleans()):
        width, height = height, width
    size = len(Image.new(mode, (1, 1)).tobytes()) * width * height + 64
    seed = draw(st.integers(0, 2**32 - 1))
    data = np.random.default_rng(seed).integers(0, 256, size=size, dtype=np.uint8).tobytes()
    return Image.frombytes(mode, (width, height), data)


def as_file(image: Image.Image, folder) -> str | None:
    """The image saved as TIFF (most modes) or PNG; None when neither format takes its mode."""
    for name in ("field.tif", "field.png"):
        try:
            image.save(folder / name)
            return str(folder / name)
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return None


@CHECKS
@given(image=odd_images())
def test_odd_images_classify_and_pass_the_gate_or_fail_cleanly(tmp_path, classifier, image):
    path = as_file(image, tmp_path)
    for source in (image, path) if path else (image,):
        rgb = load_rgb(source)  # every mode, La and the other premultiplied one included
        assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3
        check_prediction(classifier.predict(rgb), classifier)
        report = assess(rgb, QualityThresholds())
        assert report.passed or report.reason.split(":")[0] in (
            "odd_shape", "too_dark", "too_bright", "clipped", "empty_field", "out_of_focus",
            "no_stained_cells",
        )  # fmt: skip


def test_every_mode_at_an_odd_size(tmp_path, classifier):
    """The search draws modes at random; this makes sure each one is seen, from memory and from a file."""
    rng = np.random.default_rng(0)
    for mode in MODES:
        size = len(Image.new(mode, (1, 1)).tobytes()) * 3 * 700
        image = Image.frombytes(mode, (3, 700), rng.integers(0, 256, size, dtype=np.uint8).tobytes())
        path = as_file(image, tmp_path)
        for source in (image, path) if path else (image,):
            rgb = load_rgb(source)
            check_prediction(classifier.predict(rgb), classifier)
            assert assess(rgb, QualityThresholds()).reason.startswith("odd_shape")


@pytest.mark.parametrize("size", [(1, 1), (1, 200_000), (200_000, 1), (8000, 8000)], ids=str)
def test_the_extremes_of_size_and_shape(classifier, size):
    """1x1, strips, and an image at the pixel limit (64 Mpixel): classified and judged in bounded memory."""
    image = Image.new("L", size, 180)
    assert size[0] * size[1] <= MAX_PIXELS
    rgb = load_rgb(image)
    check_prediction(classifier.predict(rgb), classifier)
    assert assess(rgb, QualityThresholds()).reason is not None  # a uniform grey field is refused


@pytest.mark.parametrize("shape", [(1, 100_000), (100_000, 1), (2, 3000), (3000, 2)], ids=str)
def test_the_gate_rejects_a_strip_in_bounded_memory(shape):
    """The gate used to scale a strip's short side to 224 with no cap: 5 gigapixels for 1x100000."""
    rgb = np.full((*shape, 3), 200, np.uint8)
    tracemalloc.start()
    report = assess(rgb, QualityThresholds())
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert report.reason is not None and report.reason.startswith("odd_shape: ")
    assert peak < 20 << 20, peak  # a capped analysis copy, not gigapixels


def test_one_pixel_over_the_limit_is_refused_from_a_file_without_decoding(tmp_path):
    header = io.BytesIO()
    Image.new("1", (8001, 8000)).save(header, format="PNG")  # 64,008,000 pixels, a few kB
    path = tmp_path / "big.png"
    path.write_bytes(header.getvalue())
    with pytest.raises(ImageError, match="too large"):
        open_image(path)


# ---- bundle.json and quality configs -------------------------------------------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def manifest(int8_bundle) -> dict:
    return json.loads((int8_bundle / MANIFEST_FILE).read_text())


MANIFEST_KEYS = ["labels", "input", "output", "preprocessing", "precision", "model_sha256", "model_bytes",
                 "created", "outputs", "accuracy_check", "extra", "format_version"]  # fmt: skip


@CHECKS
@given(key=st.sampled_from(MANIFEST_KEYS), value=json_values)
def test_bundle_json_with_any_value_anywhere_is_read_or_refused_in_one_line(
    tmp_path_factory, int8_bundle, manifest, key, value
):
    bundle = tmp_path_factory.mktemp("bundle") / "b"
    shutil.copytree(int8_bundle, bundle)
    (bundle / MANIFEST_FILE).write_text(json.dumps({**manifest, key: value}))
    try:
        read_manifest(bundle)
    except BundleError as error:
        assert str(error).startswith(str(bundle)) and "\n" not in str(error)


@CHECKS
@given(
    content=st.one_of(json_values.map(json.dumps), st.binary(max_size=512).map(lambda b: b.decode("latin-1")))
)
def test_any_quality_config_is_thresholds_or_one_error(tmp_path, content):
    path = tmp_path / "quality.json"
    path.write_text(content, encoding="utf-8")
    try:
        limits = QualityThresholds.from_file(path)
    except QualityConfigError as error:
        assert str(error).startswith(str(path)) and "\n" not in str(error)
        return
    assert all(math.isfinite(value) for value in limits.to_dict().values())
