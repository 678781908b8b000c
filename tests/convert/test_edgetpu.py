"""`convert --edgetpu` with an `edgetpu_compiler` on PATH: the success and failure paths.

Google's compiler runs on x86-64 Debian only and is not installed here, so each test writes a
stand-in script (tests/edgetpu_stand_ins.py) that takes the real command line and writes what the
compiler writes, or fails the way it does.
"""

from __future__ import annotations

import os
import shutil

import pytest

from convert.config import ConvertConfig
from convert.edgetpu import LOG_FILE, compile_for_edgetpu
from edge_all.digest import sha256_file
from edge_all.runtime.bundle import EDGETPU_MODEL_FILE, MODEL_FILE, BundleError, read_manifest
from edge_all.runtime.classifier import Classifier, is_edgetpu_compiled
from tests.edgetpu_stand_ins import operator_count, write_fake_compiler


@pytest.fixture
def bundle(int8_bundle, tmp_path):
    copy = tmp_path / "bundle"
    shutil.copytree(int8_bundle, copy)
    return copy


def on_path(monkeypatch, folder) -> None:
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")


def test_a_compiler_that_succeeds_adds_the_edge_tpu_model_and_its_log(bundle, tmp_path, monkeypatch):
    on_path(monkeypatch, write_fake_compiler(tmp_path / "bin").parent)
    before = sorted(p.name for p in bundle.iterdir())
    outcome = compile_for_edgetpu(bundle)
    assert outcome.compiled
    operators = operator_count((bundle / MODEL_FILE).read_bytes())
    assert outcome.message == (
        f"compiled {EDGETPU_MODEL_FILE} (Number of operations that will run on Edge TPU: {operators}; "
        "Number of operations that will run on CPU: 0)"
    )
    assert is_edgetpu_compiled(bundle / EDGETPU_MODEL_FILE)
    assert "Edge TPU Compiler version" in (bundle / LOG_FILE).read_text()
    # Nothing else is left behind: no temporary output folder inside the bundle.
    assert sorted(p.name for p in bundle.iterdir()) == sorted([*before, EDGETPU_MODEL_FILE, LOG_FILE])


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        # The real compiler's last words on a model it cannot map: the message names the last line.
        ("ERROR: Didn't find op for builtin opcode 'MEAN'\nCompilation failed!", "(Compilation failed!)"),
        (None, "exit status"),  # exits 0 and writes nothing: still a failure
    ],
    ids=["compiler error", "no output"],
)
def test_a_compiler_that_fails_keeps_the_cpu_bundle(bundle, tmp_path, monkeypatch, failure, reason):
    script = write_fake_compiler(tmp_path / "bin", failure=failure)
    if failure is None:  # a compiler that says nothing useful and writes no model
        script.write_text(f"#!{shutil.which('sh')}\nexit 0\n")
    on_path(monkeypatch, script.parent)
    before = {p.name: sha256_file(p) for p in bundle.iterdir() if p.is_file()}
    outcome = compile_for_edgetpu(bundle)
    assert not outcome.compiled
    assert outcome.message.startswith("edgetpu_compiler failed (") and reason in outcome.message
    assert outcome.message.endswith(f"see {LOG_FILE}; the CPU bundle is complete")
    assert not (bundle / EDGETPU_MODEL_FILE).exists()
    after = {p.name: sha256_file(p) for p in bundle.iterdir() if p.is_file() and p.name != LOG_FILE}
    assert after == before and all(p.is_file() for p in bundle.iterdir())
    Classifier.load(bundle)  # still a valid bundle


def test_convert_with_edgetpu_records_the_compiled_model_sha256(trained_run, tmp_path, monkeypatch):
    from convert.convert import convert_run

    on_path(monkeypatch, write_fake_compiler(tmp_path / "bin").parent)
    result = convert_run(
        ConvertConfig(
            run_dir=trained_run, out=tmp_path / "b", edgetpu=True, calibration_samples=16, progress=False
        )
    )
    assert result.published and result.edgetpu is not None and result.edgetpu.compiled
    assert result.warnings == []
    edgetpu_model = result.bundle_dir / EDGETPU_MODEL_FILE
    manifest = read_manifest(result.bundle_dir)
    assert manifest.edgetpu_model_sha256 == sha256_file(edgetpu_model)
    assert is_edgetpu_compiled(edgetpu_model) and not is_edgetpu_compiled(result.bundle_dir / MODEL_FILE)
    # The recorded digest is checked on load: a swapped Edge TPU model refuses the bundle.
    edgetpu_model.write_bytes((result.bundle_dir / MODEL_FILE).read_bytes())
    with pytest.raises(BundleError, match="model_edgetpu.tflite: sha256"):
        Classifier.load(result.bundle_dir)
