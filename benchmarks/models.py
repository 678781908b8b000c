"""Random-weight ResNet50 and MobileNetV2 bundles (224x224; float32, float16, int8), built once and cached.

Latency and memory do not depend on the weight values, so the benchmarks need no training: the
deployed architecture (training.models.build_classifier: preprocessing layer, backbone, head) with
random weights, converted by convert.tflite exactly as `edge-all convert` converts, and written as
a real bundle (sha256, labels, tensor specs) that the runtime loads like any other. The Keras model
is kept beside it (model.keras) so the float reference runs the very model that was converted.

The cache lives in benchmarks/.cache (or $EDGE_ALL_BENCH_CACHE); delete it to rebuild.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

import edge_all
from edge_all.digest import sha256_file
from edge_all.runtime.bundle import BundleError, BundleManifest, read_manifest, scores_only, write_manifest
from edge_all.runtime.images import Preprocessing

# Bump when anything below changes what gets built, so a stale cache is rebuilt rather than measured.
CACHE_VERSION = 1
CACHE_DIR = Path(os.environ.get("EDGE_ALL_BENCH_CACHE", Path(__file__).resolve().parent / ".cache"))
BACKBONES = ("resnet50", "mobilenetv2")
PRECISIONS = ("float32", "float16", "int8")
IMAGE_SIZE = 224
CALIBRATION_SAMPLES = 32


@dataclass(frozen=True)
class BenchModel:
    """One cached bundle and the float Keras model it was converted from."""

    backbone: str
    precision: str
    bundle: Path
    keras_path: Path

    @property
    def name(self) -> str:
        return f"{self.backbone}-{self.precision}"

    @property
    def model_file(self) -> Path:
        return self.bundle / "model.tflite"

    @property
    def model_bytes(self) -> int:
        return self.model_file.stat().st_size


def _bundle_dir(backbone: str, precision: str, root: Path) -> Path:
    return root / f"v{CACHE_VERSION}" / f"{backbone}-{IMAGE_SIZE}-{precision}"


def _cached(backbone: str, precision: str, root: Path) -> BenchModel | None:
    """The cached bundle when it is whole and current (a damaged one fails read_manifest's sha256)."""
    bundle = _bundle_dir(backbone, precision, root)
    keras_path = root / f"v{CACHE_VERSION}" / f"{backbone}-{IMAGE_SIZE}.keras"
    if not keras_path.is_file() or not (bundle / "bundle.json").is_file():
        return None
    try:
        manifest = read_manifest(bundle)
    except BundleError:
        return None
    if manifest.extra.get("cache_version") != CACHE_VERSION:
        return None
    return BenchModel(backbone, precision, bundle, keras_path)


def _calibration(labels: list[str], samples: int):
    """Synthetic smears of every class: int8 ranges as a real calibration would set them, roughly."""
    from convert.calibration import CalibrationSet
    from training.demo_data import draw_smear

    rng = np.random.default_rng(0)
    chosen = [labels[i % len(labels)] for i in range(samples)]
    pixels = np.stack([draw_smear(label, rng, IMAGE_SIZE)[0] for label in chosen])
    per_class = {label: chosen.count(label) for label in labels}
    return CalibrationSet(
        pixels=pixels, per_class=per_class, files=[f"synthetic-{i}" for i in range(samples)]
    )


def _write_bundle(
    target: Path, tflite: bytes, float_bytes: int, labels: list[str], backbone: str, precision: str
) -> None:
    from convert.publish import Staging, tensor_specs

    if target.exists():
        shutil.rmtree(target)
    with Staging(target) as staging:
        model_path = staging.write_model(tflite, labels)
        input_spec, output_spec = tensor_specs(model_path)
        manifest = BundleManifest(
            labels=labels,
            input=input_spec,
            outputs=scores_only(output_spec),
            preprocessing=Preprocessing(),
            precision=precision,
            model_sha256=sha256_file(model_path),
            model_bytes=len(tflite),
            float_model_bytes=float_bytes,
            source_run=None,
            accuracy_check=None,
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            edge_all_version=edge_all.__version__,
            extra={
                "cache_version": CACHE_VERSION,
                "note": f"benchmark model: {backbone} with RANDOM weights, for latency and memory only",
            },
        )
        write_manifest(staging.dir, manifest)
        staging.publish()


def build_backbone(backbone: str, root: Path = CACHE_DIR, log=print) -> dict[str, BenchModel]:
    """Every precision of one backbone, from the cache or built now (one Keras model for all three)."""
    found = {p: _cached(backbone, p, root) for p in PRECISIONS}
    if all(found.values()):
        return found  # type: ignore[return-value]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras

    from convert.calibration import representative_dataset
    from convert.tflite import to_tflite
    from training.config import TrainConfig
    from training.dataset import CLASSES
    from training.models import build_classifier, load_model

    labels = list(CLASSES)
    keras_path = root / f"v{CACHE_VERSION}" / f"{backbone}-{IMAGE_SIZE}.keras"
    keras_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if keras_path.is_file():
        model = load_model(keras_path)
    else:
        keras.utils.set_random_seed(0)
        config = TrainConfig(
            data=root, out=root, backbone=backbone, weights="none", image_size=IMAGE_SIZE, verbose=0
        )
        model = build_classifier(config, num_classes=len(labels)).model
        partial = keras_path.with_name(f".{keras_path.name}.partial.keras")
        model.save(partial)
        os.replace(partial, keras_path)
    size = (IMAGE_SIZE, IMAGE_SIZE)
    float32 = to_tflite(model, size, "float32")
    for precision in PRECISIONS:
        if found[precision] is not None:
            continue
        log(f"[benchmarks] converting random-weight {backbone} to {precision} TFLite ...")
        if precision == "float32":
            tflite = float32
        elif precision == "float16":
            tflite = to_tflite(model, size, "float16")
        else:
            calib = _calibration(labels, CALIBRATION_SAMPLES)
            tflite = to_tflite(model, size, "int8", "uint8", representative_dataset(calib, False))
        _write_bundle(
            _bundle_dir(backbone, precision, root), tflite, len(float32), labels, backbone, precision
        )
        found[precision] = BenchModel(backbone, precision, _bundle_dir(backbone, precision, root), keras_path)
    log(f"[benchmarks] {backbone} bundles ready in {time.perf_counter() - started:.0f} s")
    return found  # type: ignore[return-value]


def main() -> None:
    """`python -m benchmarks.models`: build (or list) the cached bundles."""
    for backbone in BACKBONES:
        for model in build_backbone(backbone, log=lambda m: print(m, file=sys.stderr)).values():
            print(json.dumps({"model": model.name, "bundle": str(model.bundle), "bytes": model.model_bytes}))


if __name__ == "__main__":
    main()
