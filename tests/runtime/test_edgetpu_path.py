"""The runtime's Edge TPU path: is a model compiled, which model a bundle hands the delegate, its sha256.

No Coral device or libedgetpu here, so tests/edgetpu_stand_ins.py supplies what they would: a model
laid out as edgetpu_compiler writes one, and a stand-in `libedgetpu.so.1` that loads through the real
delegate ABI and runs nothing itself. The Edge TPU path runs in a subprocess whose library search
path finds the stand-in.
"""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest

from edge_all.digest import sha256_file
from edge_all.runtime.backend import BackendError
from edge_all.runtime.bundle import EDGETPU_MODEL_FILE, BundleError, read_manifest, write_manifest
from edge_all.runtime.classifier import Classifier, ModelError, is_edgetpu_compiled
from edge_all.runtime.model_ops import NotATfliteModel, custom_op_names
from tests.cli_runner import python_with, run_edge_all
from tests.edgetpu_stand_ins import EDGETPU_OP, build_stand_in_delegate, compile_like_edgetpu, with_decoy_name

from .conftest import COLOURS, colour_image, make_bundle


@pytest.fixture(scope="module")
def models(tiny_models, tmp_path_factory):
    """The colour model plain, compiled for the Edge TPU (as the compiler lays it out), and a decoy."""
    root = tmp_path_factory.mktemp("edgetpu-models")
    plain = tiny_models.uint8_io.read_bytes()
    paths = {
        "plain": plain,
        "compiled": compile_like_edgetpu(plain),
        "decoy": with_decoy_name(plain),
        "appended": plain + EDGETPU_OP.encode(),  # the op's name as trailing bytes
    }
    for name, data in paths.items():
        (root / f"{name}.tflite").write_bytes(data)
    return {name: root / f"{name}.tflite" for name in paths}


@pytest.fixture(scope="module")
def edgetpu_bundle(models, tmp_path_factory):
    """A bundle of the colour model with its Edge TPU build and that build's sha256 in bundle.json."""
    bundle = make_bundle(models["plain"], COLOURS, tmp_path_factory.mktemp("edgetpu-bundle") / "bundle")
    manifest = read_manifest(bundle)
    shutil.copy(models["compiled"], bundle / EDGETPU_MODEL_FILE)
    write_manifest(
        bundle, dataclasses.replace(manifest, edgetpu_model_sha256=sha256_file(bundle / EDGETPU_MODEL_FILE))
    )
    return bundle


@pytest.fixture(scope="module")
def stand_in_libedgetpu(tmp_path_factory):
    """A folder holding the stand-in libedgetpu.so.1, for LD_LIBRARY_PATH."""
    return build_stand_in_delegate(tmp_path_factory.mktemp("libedgetpu")).parent


def test_only_the_operator_table_makes_a_model_compiled(models):
    assert custom_op_names(models["compiled"].read_bytes()) == [EDGETPU_OP]
    assert is_edgetpu_compiled(models["compiled"])
    for name in ("plain", "decoy", "appended"):
        assert EDGETPU_OP.encode() in models[name].read_bytes() or name == "plain"
        assert custom_op_names(models[name].read_bytes()) == [], name
        assert not is_edgetpu_compiled(models[name]), name


def test_the_decoy_is_a_working_cpu_model_and_the_compiled_one_needs_the_edge_tpu(models, tiny_models):
    decoy = Classifier.load(models["decoy"], labels=tiny_models.labels)
    assert [decoy.predict(colour_image(i)).label for i in range(3)] == COLOURS
    with pytest.raises(BackendError, match=f"compiled.tflite: .*{EDGETPU_OP}"):
        Classifier.load(models["compiled"], labels=tiny_models.labels)


def test_a_file_that_is_not_a_tflite_model_is_a_model_error(tmp_path, models):
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a flatbuffer at all")
    with pytest.raises(ModelError, match=r"junk\.tflite: not a TFLite model \(no TFLite file identifier"):
        is_edgetpu_compiled(junk)
    data = models["compiled"].read_bytes()
    for end in range(0, len(data), 7):  # every cut-short copy is refused in words or read whole
        try:
            custom_op_names(data[:end])
        except NotATfliteModel:
            continue


def test_a_damaged_edge_tpu_model_refuses_the_bundle(edgetpu_bundle, tmp_path):
    damaged = tmp_path / "damaged"
    shutil.copytree(edgetpu_bundle, damaged)
    data = bytearray((damaged / EDGETPU_MODEL_FILE).read_bytes())
    data[-10] ^= 0xFF
    (damaged / EDGETPU_MODEL_FILE).write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"model_edgetpu\.tflite: sha256 .* does not match bundle\.json"):
        Classifier.load(damaged)
    assert [Classifier.load(edgetpu_bundle).predict(colour_image(i)).label for i in range(3)] == COLOURS


EDGETPU_LOADS = """
import json
from edge_all.runtime.classifier import Classifier
from edge_all.errors import EdgeAllError
outcomes = {}
for case, model, labels in json.loads(sys.argv[1]):
    try:
        classifier = Classifier.load(model, labels=labels, edgetpu=True)
        outcomes[case] = ["loaded", str(classifier.model_path), classifier.backend.delegate]
    except EdgeAllError as exc:
        outcomes[case] = [type(exc).__name__, str(exc)]
print(json.dumps(outcomes))
"""


def test_the_edge_tpu_path_picks_and_checks_the_model(
    models, tiny_models, edgetpu_bundle, stand_in_libedgetpu, tmp_path
):
    without = tmp_path / "without"
    shutil.copytree(edgetpu_bundle, without)
    (without / EDGETPU_MODEL_FILE).unlink()
    labels = str(tiny_models.labels)
    cases = [
        ("plain", str(models["plain"]), labels),
        ("decoy", str(models["decoy"]), labels),
        ("compiled", str(models["compiled"]), labels),
        ("bundle", str(edgetpu_bundle), None),
        ("bundle without it", str(without), None),
    ]
    done = python_with(EDGETPU_LOADS, json.dumps(cases), env={"LD_LIBRARY_PATH": str(stand_in_libedgetpu)})
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    # Plain models are refused before any interpreter is built, the decoy too.
    for case in ("plain", "decoy"):
        assert outcome[case] == [
            "ModelError",
            f"{models[case]}: not compiled for the Edge TPU (run edgetpu_compiler on it first)",
        ]
    # A compiled model passes the check and goes to the interpreter with the delegate; the stand-in
    # runs nothing, so the CPU kernels meet the Edge TPU op, as they would without a device.
    kind, message = outcome["compiled"]
    assert kind == "BackendError" and message.startswith(f"{models['compiled']}: ") and EDGETPU_OP in message
    # A bundle hands over model_edgetpu.tflite, not model.tflite.
    kind, message = outcome["bundle"]
    assert kind == "BackendError" and message.startswith(f"{edgetpu_bundle / EDGETPU_MODEL_FILE}: ")
    assert outcome["bundle without it"] == [
        "ModelError",
        f"{without}: no {EDGETPU_MODEL_FILE} in this bundle (convert with --edgetpu to make one)",
    ]


def test_classify_with_edgetpu_names_the_bundle_model_in_one_line(
    edgetpu_bundle, stand_in_libedgetpu, tmp_path
):
    from PIL import Image

    Image.fromarray(colour_image(0)).save(tmp_path / "red.png")
    done = run_edge_all(
        "classify", "-m", edgetpu_bundle, "--edgetpu", tmp_path / "red.png",
        env={"LD_LIBRARY_PATH": str(stand_in_libedgetpu)},
    )  # fmt: skip
    assert done.returncode == 1 and done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"error: {edgetpu_bundle / EDGETPU_MODEL_FILE}: ") and EDGETPU_OP in line
