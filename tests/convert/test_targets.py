"""The table of convert targets: every row but convert's own names the function that makes it."""

from __future__ import annotations

import importlib
import inspect

from convert.targets import TARGETS


def test_every_other_target_names_a_converter_that_takes_the_run_dir_and_the_gate():
    assert TARGETS["tflite"].converter is None  # convert's own path (convert/convert.py)
    others = [row for name, row in TARGETS.items() if name != "tflite"]
    assert others and all(row.converter for row in others)
    for row in others:
        module, _, function = row.converter.partition(":")
        converter = getattr(importlib.import_module(module), function)
        parameters = list(inspect.signature(converter).parameters)
        assert parameters == ["run_dir", "out", "calibration_samples", "max_drop", "force", "show_progress"]


def test_the_imx500_result_says_its_accuracy_and_whether_it_fits_the_sensor(tmp_path):
    from convert.imx500 import Imx500Result

    report = {
        "accuracy_check": {"float_accuracy": 0.9412, "quantized_accuracy": 0.9335, "images": 250},
        "memory_report": {"Fit In Chip": True, "Memory Utilization": "61%"},
    }
    assert Imx500Result(tmp_path, report).summary() == (
        "IMX500: test accuracy 94.1 % float, 93.3 % quantized (250 images); "
        "fits in the sensor's memory: True (61%)"
    )
    unknown = Imx500Result(tmp_path, {**report, "memory_report": None}).summary()
    assert unknown.endswith("fits in the sensor's memory: unknown (?)")
