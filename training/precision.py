"""Mixed precision while training; float32 in everything a run leaves behind.

`--precision bfloat16` or `float16` computes in 16 bits (Keras's mixed policies: variables stay
float32, layers compute in 16 bits; float16 also scales the loss, which Keras's compile does by
itself) where an accelerator has fast 16-bit units. The saved model.keras is always a float32 copy,
so evaluate, convert and the int8 converter see the same kind of model whatever the run used.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import keras

import training.layers  # noqa: F401  (registers the custom preprocessing layer for the copy)

# --precision -> the Keras dtype policy the model is built under
POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}


@contextmanager
def dtype_policy(precision: str) -> Iterator[None]:
    """Build models under `precision`'s policy; the previous global policy comes back afterwards."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(POLICIES[precision])
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def float32_copy(model: keras.Model) -> keras.Model:
    """The same network with every layer in float32 and the same weights (a model that already is
    float32 comes back as it is). The weights are float32 either way: mixed policies only change
    what the layers compute in, so nothing is rounded."""
    config = keras.saving.serialize_keras_object(model)
    float32 = _float32_policies(config)
    if float32 == config:
        return model
    copy = keras.saving.deserialize_keras_object(float32)
    copy.set_weights(model.get_weights())
    return copy


def _float32_policies(node: Any) -> Any:
    """A serialized model with every dtype policy set to float32."""
    if isinstance(node, list):
        return [_float32_policies(item) for item in node]
    if not isinstance(node, dict):
        return node
    if node.get("class_name") == "DTypePolicy" and isinstance(node.get("config"), dict):
        return {**node, "config": {**node["config"], "name": "float32"}}
    return {key: _float32_policies(value) for key, value in node.items()}
