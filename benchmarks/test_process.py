"""What a fresh runtime process pays: start-up (import to first prediction) and peak memory; file sizes.

Each round starts `python -m edge_all.runtime.benchmark` (the probe behind `edge-all benchmark`): it imports
the runtime, loads the bundle, classifies 100 JPEG files and reports its own timings and its
resident-memory high-water mark (VmHWM; see edge_all.runtime.benchmark._peak_rss_mb for why not ru_maxrss).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.models import BACKBONES, PRECISIONS
from benchmarks.settings import PROCESS_ROUNDS, ROUNDS, WARMUP, median, median_ms
from edge_all.runtime.benchmark import PROBE_IMAGES, measure_process, write_synthetic_images
from edge_all.runtime.classifier import Classifier

CASES = [(b, p) for b in BACKBONES for p in PRECISIONS]
IDS = [f"{b}-{p}" for b, p in CASES]


@pytest.fixture(scope="module")
def probe_images(tmp_path_factory) -> list[Path]:
    files = write_synthetic_images(tmp_path_factory.mktemp("probe-images"), 20, 224, 224)
    return [files[i % len(files)] for i in range(PROBE_IMAGES)]


@pytest.mark.parametrize(("backbone", "precision"), CASES, ids=IDS)
def test_fresh_process(benchmark, bench_models, results, probe_images, backbone, precision):
    """pytest-benchmark times the whole child process (100 images); the start-up split is the child's."""
    model = bench_models(backbone)[precision]
    runs = []

    def probe() -> None:
        runs.append(measure_process(model.bundle, probe_images, threads=2))

    benchmark.group = "fresh process: load + 100 images"
    benchmark.pedantic(probe, rounds=PROCESS_ROUNDS, iterations=1)
    assert not any(run.tensorflow_imported for run in runs), "the runtime process imported TensorFlow"
    results.put(
        "process",
        f"{backbone}-{precision}",
        backbone=backbone,
        precision=precision,
        threads=2,
        images=PROBE_IMAGES,
        rounds=len(runs),
        import_s=median([r.import_s for r in runs]),
        load_s=median([r.load_s for r in runs]),
        first_prediction_s=median([r.first_prediction_s for r in runs]),
        import_to_first_prediction_s=median([r.import_to_first_prediction_s for r in runs]),
        process_start_to_first_prediction_s=median([r.process_start_to_first_prediction_s for r in runs]),
        peak_rss_mb=max(r.peak_rss_mb for r in runs),
    )


@pytest.mark.parametrize(("backbone", "precision"), CASES, ids=IDS)
def test_model_load_and_size(benchmark, bench_models, results, backbone, precision):
    """Classifier.load (sha256 of the whole file, interpreter, tensor allocation); the file size."""
    models = bench_models(backbone)
    model = models[precision]
    benchmark.group = "Classifier.load"
    benchmark.pedantic(
        Classifier.load,
        args=(model.bundle,),
        kwargs={"threads": 2},
        rounds=max(3, ROUNDS // 3),
        warmup_rounds=min(WARMUP, 2),
    )
    results.put(
        "files",
        f"{backbone}-{precision}",
        backbone=backbone,
        precision=precision,
        bytes=model.model_bytes,
        float32_bytes=models["float32"].model_bytes,
        load_ms=median_ms(benchmark),
    )


def test_import_breakdown(benchmark, results):
    """What start-up imports cost (`python -X importtime`): the runtime and the interpreter it finds.

    Cumulative ms of the modules that matter, where each is first imported; the benchmark row is
    the whole process (Python's own start included).
    """
    import subprocess
    import sys

    code = (
        "import edge_all.runtime.classifier, edge_all.runtime.backend; "
        "edge_all.runtime.backend.find_interpreter()"
    )
    command = [sys.executable, "-X", "importtime", "-c", code]

    def run() -> str:
        return subprocess.run(command, capture_output=True, text=True, check=True).stderr

    benchmark.group = "fresh process: imports"
    report = benchmark.pedantic(run, rounds=PROCESS_ROUNDS, iterations=1)
    cumulative: dict[str, float] = {}
    for line in report.splitlines():
        fields = line.split("|")
        if len(fields) == 3 and fields[1].strip().isdigit():
            cumulative[fields[2].strip()] = int(fields[1]) / 1000.0
    interpreter = "ai_edge_litert._pywrap_litert_interpreter_wrapper"
    watched = ("numpy", "PIL.Image", "edge_all.runtime.classifier", interpreter)
    results.put(
        "imports",
        "runtime",
        modules_ms={name: cumulative.get(name) for name in watched},
        process_ms=median_ms(benchmark),
    )
