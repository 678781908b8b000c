"""The Edge TPU model inside a bundle is verified like model.tflite, and a delegate that cannot be
loaded (LiteRT raises OSError, or AttributeError for a library that is no delegate) is one line
with the install hint. No Edge TPU and no libedgetpu exist on this machine (test_backend.py checks
that), so every delegate here fails for real, through LiteRT's own load_delegate."""

from __future__ import annotations

import ctypes.util
import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from edge_all.digest import sha256_file
from edge_all.runtime.backend import BackendError, find_interpreter, load_delegate
from edge_all.runtime.bundle import (
    EDGETPU_MODEL_FILE,
    MANIFEST_FILE,
    MODEL_FILE,
    BundleError,
    BundleManifest,
    write_manifest,
)
from edge_all.runtime.classifier import Classifier


@pytest.fixture
def bundle_with_edgetpu_model(tmp_path, tiny_bundle) -> Path:
    """A bundle with a model_edgetpu.tflite that bundle.json does not (yet) describe."""
    bundle = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, bundle)
    # Any bytes do: the check is of the file against bundle.json, before anything loads it.
    (bundle / EDGETPU_MODEL_FILE).write_bytes((bundle / MODEL_FILE).read_bytes() + b"edgetpu-custom-op")
    return bundle


def set_edgetpu_sha256(bundle: Path, digest: str | None) -> None:
    manifest = BundleManifest.from_dict(json.loads((bundle / MANIFEST_FILE).read_text()))
    write_manifest(bundle, dataclasses.replace(manifest, edgetpu_model_sha256=digest))


def test_an_edgetpu_model_without_a_sha256_is_refused(bundle_with_edgetpu_model):
    with pytest.raises(
        BundleError, match="records no sha256 for it; refusing an unverified model"
    ) as refused:
        Classifier.load(bundle_with_edgetpu_model)
    assert f"{EDGETPU_MODEL_FILE}:" in str(refused.value) and "\n" not in str(refused.value)


def test_an_edgetpu_model_with_a_wrong_sha256_is_refused(bundle_with_edgetpu_model):
    set_edgetpu_sha256(bundle_with_edgetpu_model, "0" * 64)
    with pytest.raises(BundleError, match=r"model_edgetpu\.tflite: sha256 .* does not match bundle\.json"):
        Classifier.load(bundle_with_edgetpu_model)


def test_a_verified_edgetpu_model_lets_the_bundle_load(bundle_with_edgetpu_model):
    bundle = bundle_with_edgetpu_model
    set_edgetpu_sha256(bundle, sha256_file(bundle / EDGETPU_MODEL_FILE))
    assert Classifier.load(bundle).model_path == bundle / MODEL_FILE  # the CPU model, on the CPU
    # With --edgetpu the delegate is what fails here: no Edge TPU runtime on this machine.
    with pytest.raises(
        BackendError, match="libedgetpu.so.1 could not be loaded .*install an Edge TPU runtime"
    ):
        Classifier.load(bundle, edgetpu=True)


def test_a_missing_delegate_library_is_one_line_with_the_install_hint(tmp_path, capfd):
    backend = find_interpreter("ai_edge_litert")
    cases = {
        str(tmp_path / "libedgetpu.so.1"): "cannot open shared object file",  # LiteRT's OSError
        str(_not_a_library(tmp_path)): "",  # a file, but no shared library: OSError too
        _system_library("m"): "not a TensorFlow Lite delegate",  # a library, but no delegate
    }
    for library, detail in cases.items():
        with pytest.raises(BackendError) as failed:
            load_delegate(backend, library)
        message = str(failed.value)
        assert message.startswith(f"Edge TPU delegate {library} could not be loaded by ai_edge_litert (")
        assert (
            detail in message and "install an Edge TPU runtime" in message and "docs/hardware.md" in message
        )
        assert "\n" not in message
    # LiteRT's half-made Delegate complains from its __del__ after a failed load; none of it shows.
    assert "Exception ignored" not in capfd.readouterr().err


def _not_a_library(folder: Path) -> Path:
    path = folder / "libnot-a-library.so"
    path.write_text("not an ELF file")
    return path


def _system_library(name: str) -> str:
    found = ctypes.util.find_library(name)
    if found is None:
        pytest.skip(f"no lib{name} found on this system")
    return found
