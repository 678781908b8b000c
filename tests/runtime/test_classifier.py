"""The Python API on real interpreters: coral's ImageNet models and small models made here."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from edge_all.runtime.bundle import MANIFEST_FILE, MODEL_FILE, BundleError
from edge_all.runtime.classifier import Classifier, ModelError, Prediction
from edge_all.runtime.images import ImageError
from edge_all.runtime.labels import write_labels

from .conftest import COLOURS, HEIGHT, WIDTH, colour_image, make_bundle

IMAGENET_BIRDS = {
    "chickadee",
    "magpie",
    "jay",
    "bulbul",
    "junco, snowbird",
    "house finch, linnet, Carpodacus mexicanus",
}


@pytest.mark.parametrize(
    "model", ["mobilenet_v2_1.0_224_quant.tflite", "tf2_mobilenet_v2_1.0_224_ptq.tflite"]
)
def test_coral_models_recognise_bird_and_flower(coral_models, model):
    classifier = Classifier.load(coral_models / model, labels=coral_models / "imagenet_labels.txt", threads=1)
    assert len(classifier.labels) == 1001 and classifier.labels[0] == "background"
    assert classifier.input_size == (224, 224)
    assert classifier.manifest is None

    bird = classifier.predict(coral_models / "bird.png")
    assert bird.label in IMAGENET_BIRDS, bird.top_k(classifier.labels, 5)
    assert bird.label == "chickadee"  # what both models really say about this picture
    flower = classifier.predict(coral_models / "sunflower.png")
    assert flower.label == "daisy", flower.top_k(classifier.labels, 5)

    # Quantized softmax outputs are dequantized, not softmaxed a second time.
    assert flower.confidence > 0.9
    assert 0.8 < flower.probabilities.sum() < 1.05
    assert flower.probabilities.dtype == np.float32 and flower.probabilities.shape == (1001,)
    assert flower.index == classifier.labels.index("daisy")
    assert flower.inference_ms > 0


def test_accepts_path_pil_image_and_array_alike(tiny_models, tmp_path):
    classifier = Classifier.load(tiny_models.uint8_io, labels=tiny_models.labels)
    path = tmp_path / "green.png"
    Image.fromarray(colour_image(1, 50, 70)).save(path)
    from_path = classifier.predict(path)
    with Image.open(path) as image:
        from_pil = classifier.predict(image)
        from_array = classifier.predict(np.asarray(image.convert("RGB")))
    assert from_path.label == "green"
    np.testing.assert_array_equal(from_path.probabilities, from_pil.probabilities)
    np.testing.assert_array_equal(from_path.probabilities, from_array.probabilities)


def test_labels_count_must_match_outputs(tiny_models, tmp_path):
    labels = tmp_path / "labels.txt"
    write_labels(labels, ["red", "green"])  # the model has three outputs
    with pytest.raises(ModelError, match="3 outputs but there are 2 labels"):
        Classifier.load(tiny_models.uint8_io, labels=labels)


@pytest.mark.parametrize("kind", ["float32", "float_logits", "uint8_io", "int8_io"])
def test_tiny_models_of_every_precision_classify_colours(tiny_models, kind):
    classifier = Classifier.load(getattr(tiny_models, kind), labels=tiny_models.labels, threads=1)
    assert classifier.input_size == (HEIGHT, WIDTH)
    for index, colour in enumerate(COLOURS):
        prediction = classifier.predict(colour_image(index))
        assert isinstance(prediction, Prediction)
        assert prediction.label == colour and prediction.index == index
        assert prediction.probabilities.sum() == pytest.approx(1.0, abs=0.02)
        assert prediction.confidence > 0.8


def test_float_logits_get_softmax_and_probabilities_do_not(tiny_models):
    image = colour_image(2)
    logits = Classifier.load(tiny_models.float_logits, labels=tiny_models.labels).predict(image)
    probabilities = Classifier.load(tiny_models.float32, labels=tiny_models.labels).predict(image)
    # The same network with and without its softmax layer gives the same probabilities.
    np.testing.assert_allclose(logits.probabilities, probabilities.probabilities, atol=1e-5)


def test_quantized_models_agree_with_float(tiny_models):
    images = [colour_image(i % 3, 30 + i, 50 + 2 * i) for i in range(6)]
    reference = Classifier.load(tiny_models.float32, labels=tiny_models.labels)
    for kind in ("uint8_io", "int8_io"):
        quantized = Classifier.load(getattr(tiny_models, kind), labels=tiny_models.labels)
        for image in images:
            np.testing.assert_allclose(
                quantized.predict(image).probabilities, reference.predict(image).probabilities, atol=0.03
            )


@pytest.mark.parametrize("kind", ["uint8_io", "int8_io", "float32"])
def test_bundle_loads_with_its_labels_and_preprocessing(tiny_models, tmp_path, kind):
    bundle = make_bundle(getattr(tiny_models, kind), COLOURS, tmp_path / "bundle")
    classifier = Classifier.load(bundle)
    assert classifier.manifest is not None and classifier.labels == COLOURS
    assert classifier.preprocessing.crop == "center"
    assert [classifier.predict(colour_image(i)).label for i in range(3)] == COLOURS
    assert classifier.describe()["bundle"]["model_sha256"] == classifier.manifest.model_sha256


def test_bundle_saying_logits_gets_softmax(tiny_models, tmp_path):
    bundle = make_bundle(tiny_models.float_logits, COLOURS, tmp_path / "bundle", outputs="logits")
    prediction = Classifier.load(bundle).predict(colour_image(1))
    assert prediction.label == "green"
    assert prediction.probabilities.sum() == pytest.approx(1.0, abs=1e-5)


def test_tampered_bundle_is_refused(tiny_bundle, tmp_path):
    tampered = tmp_path / "tampered"
    shutil.copytree(tiny_bundle, tampered)
    model = bytearray((tampered / MODEL_FILE).read_bytes())
    model[len(model) // 2] ^= 0xFF
    (tampered / MODEL_FILE).write_bytes(bytes(model))
    with pytest.raises(BundleError, match="does not match bundle.json.*refusing"):
        Classifier.load(tampered)


def test_bundle_whose_manifest_disagrees_with_the_model_is_refused(tiny_bundle, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_bundle, broken)
    manifest = json.loads((broken / MANIFEST_FILE).read_text())
    manifest["input"]["shape"] = [1, 99, 99, 3]
    (broken / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="bundle.json says"):
        Classifier.load(broken)


def test_bundle_refuses_extra_labels_and_plain_dir_is_not_a_bundle(tiny_bundle, tiny_models, tmp_path):
    with pytest.raises(ModelError, match="carries its own labels"):
        Classifier.load(tiny_bundle, labels=tiny_models.labels)
    with pytest.raises(ModelError, match="not a model bundle"):
        Classifier.load(tmp_path)
    with pytest.raises(ModelError, match="no such model"):
        Classifier.load(tmp_path / "missing.tflite")


def test_edgetpu_without_the_runtime_is_a_clear_error(tiny_models):
    # libedgetpu.so.1 is not installed on this machine: the real loader fails, and says what to do.
    from edge_all.runtime.backend import BackendError

    with pytest.raises(
        BackendError, match=r"Edge TPU delegate libedgetpu\.so\.1 could not be loaded.*libedgetpu1-std"
    ):
        Classifier.load(tiny_models.uint8_io, labels=tiny_models.labels, edgetpu=True)


def test_bad_image_raises_image_error_naming_the_file(tiny_models, tmp_path):
    classifier = Classifier.load(tiny_models.uint8_io, labels=tiny_models.labels)
    bad = tmp_path / "x.jpg"
    bad.write_text("not an image")
    with pytest.raises(ImageError, match=r"x\.jpg: not an image"):
        classifier.predict(bad)


def test_threads_are_reported(tiny_models):
    classifier = Classifier.load(tiny_models.float32, labels=tiny_models.labels, threads=2)
    assert classifier.backend.threads == 2 and classifier.backend.delegate is None
    assert classifier.backend.name == "ai_edge_litert"
    with pytest.raises(ModelError, match="threads"):
        Classifier.load(tiny_models.float32, labels=tiny_models.labels, threads=0)


def test_a_free_input_size_is_refused(tmp_path):
    import keras
    import tensorflow as tf

    inputs = keras.Input((None, None, 3))
    model = keras.Model(
        inputs, keras.layers.Dense(2, activation="softmax")(keras.layers.GlobalAveragePooling2D()(inputs))
    )
    path = tmp_path / "dynamic.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    with pytest.raises(ModelError, match="fixed input size"):
        Classifier.load(path)


def test_bundle_whose_labels_file_was_edited_is_refused(tiny_bundle, tmp_path):
    edited = tmp_path / "edited"
    shutil.copytree(tiny_bundle, edited)
    write_labels(edited / "labels.txt", ["red", "green", "purple"])
    with pytest.raises(BundleError, match="label 2 is 'purple', recorded 'blue'"):
        Classifier.load(edited)
