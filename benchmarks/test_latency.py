"""Per-image inference latency: the runtime against a bare interpreter, LiteRT's own tool and Keras.

Every case runs the same cached .tflite (random-weight ResNet50 / MobileNetV2, 224x224, float32,
float16 and int8) with 1 and 2 interpreter threads:
- runtime: `Classifier.predict_pixels` (pixels already at input size: lookup, invoke, output decoding);
- bare interpreter: `set_tensor`, `invoke`, `get_tensor` on ai_edge_litert's Interpreter, nothing else;
- LiteRT's benchmark tool (ai_edge_litert/tools/benchmark_litert_model.py, the CompiledModel API);
- the float Keras model on the same one image: called directly, `predict_on_batch` and `predict`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from benchmarks.models import BACKBONES, PRECISIONS
from benchmarks.settings import ROUNDS, WARMUP, median, median_ms
from edge_all.runtime.classifier import Classifier

THREADS = (1, 2)
CASES = [(b, p, t) for b in BACKBONES for p in PRECISIONS for t in THREADS]
IDS = [f"{b}-{p}-{t}thread" for b, p, t in CASES]


def case_key(backbone: str, precision: str, threads: int) -> str:
    return f"{backbone}/{precision}/{threads}"


@pytest.mark.parametrize(("backbone", "precision", "threads"), CASES, ids=IDS)
def test_latency(benchmark, bench_models, results, smear_224, tmp_path, backbone, precision, threads):
    """Runtime and bare interpreter alternate round by round (a shared machine's load drifts, and
    the ratio should not), so pytest-benchmark's row is one of each; then LiteRT's tool, same file."""
    from ai_edge_litert.interpreter import Interpreter

    model = bench_models(backbone)[precision]
    classifier = Classifier.load(model.bundle, threads=threads)
    pixels = classifier.prepare(smear_224)
    interpreter = Interpreter(model_path=str(model.model_file), num_threads=threads)
    interpreter.allocate_tensors()
    (inputs,), (outputs,) = interpreter.get_input_details(), interpreter.get_output_details()
    data = pixels[None].astype(inputs["dtype"])  # raw pixels: uint8 for int8 bundles, else float32
    runtime_ms: list[float] = []
    invoke_ms: list[float] = []
    bare_ms: list[float] = []

    def bare() -> None:
        interpreter.set_tensor(inputs["index"], data)
        interpreter.invoke()
        interpreter.get_tensor(outputs["index"])

    def one_of_each() -> None:
        begin = time.perf_counter()
        bare()
        middle = time.perf_counter()
        invoke_ms.append(classifier.predict_pixels(pixels).inference_ms)
        end = time.perf_counter()
        bare_ms.append((middle - begin) * 1000.0)
        runtime_ms.append((end - middle) * 1000.0)

    benchmark.group = f"latency {backbone}-{precision}: bare interpreter + runtime"
    benchmark.pedantic(one_of_each, rounds=ROUNDS, warmup_rounds=WARMUP)
    key = case_key(backbone, precision, threads)
    results.put(
        "latency",
        key,
        backbone=backbone,
        precision=precision,
        threads=threads,
        runtime_ms=median(runtime_ms[-ROUNDS:]),
        invoke_ms=median(invoke_ms[-ROUNDS:]),
        bare_ms=median(bare_ms[-ROUNDS:]),
        model_bytes=model.model_bytes,
    )
    tool = run_litert_tool(model.model_file, threads, tmp_path / "litert.json")
    if tool is not None:
        results.put("latency", key, tool_ms=tool["median_ms"], tool_init_ms=tool["init_ms"])


def run_litert_tool(model_file: Path, threads: int, report: Path) -> dict | None:
    """LiteRT's own benchmark script on the same file (None when this wheel does not ship it)."""
    import ai_edge_litert

    tool = Path(ai_edge_litert.__file__).parent / "tools" / "benchmark_litert_model.py"
    if not tool.is_file():
        return None
    command = [
        sys.executable,
        str(tool),
        f"--model={model_file}",
        f"--num_threads={threads}",
        f"--num_runs={ROUNDS}",
        f"--warmup_runs={WARMUP}",
        f"--result_json={report}",
    ]
    subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(report.read_text())["latency"]


@pytest.mark.parametrize("backbone", BACKBONES)
def test_keras_direct_call(benchmark, bench_models, results, smear_224, backbone):
    """The float Keras model on one image, called directly: eager TensorFlow, its thread pools on all
    cores. (With the TensorFlow backend this is slower than the compiled predict functions below.)"""
    from training.models import load_model

    model = load_model(bench_models(backbone)["float32"].keras_path)
    batch = smear_224[None].astype(np.float32)

    def call() -> None:
        np.asarray(model(batch, training=False))

    benchmark.group = "Keras float reference"
    benchmark.pedantic(call, rounds=ROUNDS, warmup_rounds=WARMUP)
    results.put("keras", backbone, direct_call_ms=median_ms(benchmark))


@pytest.mark.parametrize("backbone", BACKBONES)
def test_keras_predict_on_batch(benchmark, bench_models, results, smear_224, backbone):
    """`predict_on_batch`: Keras's compiled predict function on one batch, without predict's pipeline."""
    from training.models import load_model

    model = load_model(bench_models(backbone)["float32"].keras_path)
    batch = smear_224[None].astype(np.float32)

    benchmark.group = "Keras float reference"
    benchmark.pedantic(model.predict_on_batch, args=(batch,), rounds=ROUNDS, warmup_rounds=WARMUP)
    results.put("keras", backbone, predict_on_batch_ms=median_ms(benchmark))


@pytest.mark.parametrize("backbone", BACKBONES)
def test_keras_predict(benchmark, bench_models, results, smear_224, backbone):
    """`model.predict` on one image: what a notebook does; it adds Keras's per-call data pipeline."""
    from training.models import load_model

    model = load_model(bench_models(backbone)["float32"].keras_path)
    batch = smear_224[None].astype(np.float32)

    benchmark.group = "Keras float reference"
    benchmark.pedantic(lambda: model.predict(batch, verbose=0), rounds=max(5, ROUNDS // 3), warmup_rounds=2)
    results.put("keras", backbone, predict_ms=median_ms(benchmark))
