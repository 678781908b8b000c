"""The one tensor vocabulary: specs read from an interpreter and from bundle.json agree, and softmax and
the probability test work on one output vector and on the converter's batches alike."""

from __future__ import annotations

import numpy as np
import pytest

from edge_all.tensors import Quantization, TensorSpec, looks_like_probabilities, softmax


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
