"""The one tensor vocabulary: specs read from an interpreter and from bundle.json agree, and softmax and
the probability test work on one output vector and on the converter's batches alike."""

from __future__ import annotations

import numpy as np
import pytest

from edge_all.runtime.tensors import (
    OutputDecoder,
    Quantization,
    TensorSpec,
    dequantize,
    input_lut,
    is_softmax_quantization,
    looks_like_probabilities,
    quantization_of,
    quantized_real_range,
    softmax,
)


def test_a_spec_reads_the_same_from_the_interpreter_and_from_bundle_json():
    details = {"name": "out", "shape": np.array([1, 4]), "dtype": np.uint8, "quantization": (1 / 256, 0)}
    recorded = {"shape": [1, 4], "dtype": "uint8", "quantization": {"scale": 1 / 256, "zero_point": 0}}
    spec = TensorSpec((1, 4), "uint8", Quantization(1 / 256, 0))
    assert TensorSpec.from_details(details) == TensorSpec.from_dict(recorded) == spec
    float_details = {"shape": [1, 4], "dtype": np.float32, "quantization": (0.0, 0)}
    assert TensorSpec.from_details(float_details) == TensorSpec.from_dict(
        {"shape": [1, 4], "dtype": "float32"}
    )


def test_softmax_of_a_batch_is_the_softmax_of_each_row():
    logits = np.array([[2.0, 1.0, -1.0], [0.0, 0.0, 0.0], [1000.0, 0.0, 0.0]])
    batch = softmax(logits)
    for row, expected in zip(logits, batch, strict=True):
        assert softmax(row) == pytest.approx(expected)
    assert batch.sum(axis=1) == pytest.approx([1.0, 1.0, 1.0])  # no overflow on large logits
    assert batch[1] == pytest.approx([1 / 3] * 3)


def test_probabilities_are_told_from_logits_row_by_row():
    probabilities = softmax(np.array([[2.0, 1.0, -1.0], [0.5, 0.2, 0.1]]))
    assert looks_like_probabilities(probabilities) and looks_like_probabilities(probabilities[0])
    logits = np.array([[2.0, 1.0, -1.0]])
    assert not looks_like_probabilities(logits)
    assert not looks_like_probabilities(np.concatenate([probabilities, logits]))  # every row must be one
    assert not looks_like_probabilities(np.array([1.2, -0.2]))  # sums to 1 but is not a distribution


def test_an_interpreter_tensor_without_a_scale_is_float():
    assert quantization_of({"quantization": (0.0, 0)}) is None
    assert quantization_of({}) is None
    quant = quantization_of({"quantization": (np.float32(0.5), np.int32(3))})
    assert quant == Quantization(0.5, 3)
    assert type(quant.scale) is float and type(quant.zero_point) is int
    spec = TensorSpec.from_details({"shape": np.array([1, 224, 224, 3]), "dtype": np.int8})
    assert spec == TensorSpec((1, 224, 224, 3), "int8", None)
    assert all(type(d) is int for d in spec.shape)


def test_the_input_table_maps_each_pixel_value_to_the_tensor_value():
    # A float model taking raw pixels: the identity, as float32.
    identity = input_lut(np.dtype(np.float32), None, (0.0, 255.0))
    assert identity.dtype == np.float32 and identity.shape == (256,)
    assert np.array_equal(identity, np.arange(256, dtype=np.float32))
    # A float model taking [-1, 1]: both ends exact, the middle evenly spaced.
    signed = input_lut(np.dtype(np.float32), None, (-1.0, 1.0))
    assert signed[0] == -1.0 and signed[255] == 1.0
    assert signed[51] == pytest.approx(-1.0 + 51 * 2 / 255)
    # uint8 with scale 1 and zero point 0 passes pixels through; int8 shifts them by the zero point.
    assert np.array_equal(input_lut(np.dtype(np.uint8), Quantization(1.0, 0), (0, 255)), np.arange(256))
    shifted = input_lut(np.dtype(np.int8), Quantization(1.0, -128), (0, 255))
    assert shifted.dtype == np.int8 and shifted[0] == -128 and shifted[255] == 127
    # A scale of one half doubles the value, rounds to nearest and clips at the dtype's top.
    doubled = input_lut(np.dtype(np.uint8), Quantization(0.5, 0), (0, 255))
    assert doubled[100] == 200 and doubled[127] == 254 and doubled[128] == 255 and doubled[200] == 255
    halved = input_lut(np.dtype(np.uint8), Quantization(2.0, 0), (0, 255))
    assert halved[3] == 2 and halved[255] == 128  # 1.5 and 127.5 round half to even
    assert input_lut(np.dtype(np.int8), Quantization(1.0, 0), (0, 255))[200] == 127  # clipped


def test_the_softmax_quantization_is_recognised_and_nothing_else():
    assert quantized_real_range(np.dtype(np.uint8), Quantization(0.5, 10)) == (-5.0, 122.5)
    assert quantized_real_range(np.dtype(np.int8), Quantization(0.5, -128)) == (0.0, 127.5)
    assert is_softmax_quantization(np.dtype(np.uint8), Quantization(1 / 256, 0))
    assert is_softmax_quantization(np.dtype(np.int8), Quantization(1 / 256, -128))
    assert not is_softmax_quantization(np.dtype(np.int8), Quantization(1 / 256, 0))  # [-0.5, 0.5)
    assert not is_softmax_quantization(np.dtype(np.uint8), Quantization(1 / 256, 1))  # starts below 0
    assert not is_softmax_quantization(np.dtype(np.uint8), Quantization(0.1, 0))  # logits: [0, 25.5]
    # The top end may be off by under 1%: 255/256 is, 0.98 is not.
    assert is_softmax_quantization(np.dtype(np.uint8), Quantization(0.991 / 255, 0))
    assert not is_softmax_quantization(np.dtype(np.uint8), Quantization(0.98 / 255, 0))
    assert not is_softmax_quantization(np.dtype(np.uint8), Quantization(1.02 / 255, 0))


def test_dequantize_applies_scale_and_zero_point():
    raw = np.array([-128, 0, 127], dtype=np.int8)
    real = dequantize(raw, Quantization(0.5, -128))
    assert real.dtype == np.float32 and real.tolist() == [0.0, 64.0, 127.5]
    floats = np.array([0.25, 0.75], dtype=np.float32)
    assert dequantize(floats, None) is floats  # a float tensor is not copied
    assert dequantize(np.array([1, 2], np.uint8), None).dtype == np.float32


def test_the_decoder_softmaxes_logits_only():
    softmax_quant = Quantization(1 / 256, 0)
    quantized = OutputDecoder(softmax_quant, logits=False)(np.array([[0, 64, 128, 64]], np.uint8))
    assert quantized.shape == (4,) and quantized.tolist() == [0.0, 0.25, 0.5, 0.25]
    logits = np.array([[2.0, 0.0, -2.0]], np.float32)
    assert OutputDecoder(None, logits=True)(logits) == pytest.approx(softmax(logits[0]))
    # Temperature divides the logits before the softmax: softmax([1, 0, -1]).
    assert OutputDecoder(None, True, temperature=2.0)(logits) == pytest.approx(softmax(logits[0] / 2))
    assert OutputDecoder(None, True, temperature=2.0)(logits)[0] < softmax(logits[0])[0]
    # A plain float model: probabilities pass through, logits are softmaxed.
    probabilities = np.array([[0.1, 0.2, 0.7]], np.float32)
    assert OutputDecoder(None, logits=None)(probabilities).tolist() == pytest.approx([0.1, 0.2, 0.7])
    assert OutputDecoder(None, logits=None)(logits) == pytest.approx(softmax(logits[0]))
    # The bundle's word wins: recorded probabilities are never softmaxed again.
    assert OutputDecoder(None, logits=False)(probabilities) == pytest.approx([0.1, 0.2, 0.7])


def test_probabilities_are_allowed_a_small_tolerance_and_no_more():
    assert looks_like_probabilities(np.array([-0.009, 1.009]))
    assert looks_like_probabilities(np.array([-0.01, 1.01]))  # exactly the tolerance below zero
    assert not looks_like_probabilities(np.array([-0.02, 1.02]))
    assert looks_like_probabilities(np.array([0.5, 0.509]))
    assert not looks_like_probabilities(np.array([0.5, 0.52]))
    assert not looks_like_probabilities(np.array([0.5, 0.48]))


def test_a_recorded_spec_is_checked_as_it_is_read():
    with pytest.raises(ValueError, match=r"^tensor: expected a JSON object, got a list$"):
        TensorSpec.from_dict([1, 4])
    with pytest.raises(ValueError, match=r"^tensor: shape: every item must be at least 0, not \[-1, 4\]$"):
        TensorSpec.from_dict({"shape": [-1, 4], "dtype": "uint8"})


def test_the_bundles_word_that_scores_are_logits_is_kept_even_when_they_look_like_probabilities():
    looks_like_probabilities_but_is_not = np.array([[0.1, 0.2, 0.7]], np.float32)
    decoded = OutputDecoder(None, logits=True)(looks_like_probabilities_but_is_not)
    assert decoded == pytest.approx(softmax(looks_like_probabilities_but_is_not[0]))


def test_the_input_table_never_wraps_round_below_the_dtype():
    assert input_lut(np.dtype(np.uint8), Quantization(1.0, -10), (0, 255))[:12].tolist() == [0] * 11 + [1]
