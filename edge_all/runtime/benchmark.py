"""How fast and how big a model runs on this device: the logic behind `edge-all benchmark`.

Two measurements, because they answer different questions:
- in this process, after warm-up: per-image latency of `Classifier.predict` on JPEG files at the
  model's input size (decode + preprocessing + `invoke()` + output decoding), split into the
  interpreter's own `invoke()` time and the runtime's overhead around it; throughput.
- then in a fresh process (`python -m edge_all.runtime.benchmark`, what a service restart pays): the time from
  importing the runtime to the first prediction, and the peak resident memory after loading the
  model and classifying a batch of images.

Only the standard library at module level, so the fresh process's clock starts before numpy, pillow
and the interpreter are imported.
"""

from __future__ import annotations

import gc
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edge_all.errors import EdgeAllError

PROBE_IMAGES = 100  # images the fresh process classifies before reporting its peak memory
DISTINCT_IMAGES = 20  # synthetic JPEGs made for the timing loop (cycled through)
PROBE_TIMEOUT_S = 600.0
DEFAULT_RUNS = 100  # timed predictions
DEFAULT_WARMUP = 10  # untimed predictions first


class BenchmarkError(EdgeAllError):
    """A benchmark that could not run; the message says why in one line."""


@dataclass(frozen=True)
class LatencyStats:
    """Percentiles of one timed step, in milliseconds (linear interpolation, like numpy's default)."""

    runs: int
    mean_ms: float
    min_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def from_ms(cls, samples: Sequence[float]) -> LatencyStats:
        if not samples:
            raise ValueError("no samples to summarise")
        ordered = sorted(float(s) for s in samples)
        return cls(
            runs=len(ordered),
            mean_ms=sum(ordered) / len(ordered),
            min_ms=ordered[0],
            p50_ms=percentile(ordered, 50),
            p90_ms=percentile(ordered, 90),
            p99_ms=percentile(ordered, 99),
            max_ms=ordered[-1],
        )


def percentile(ordered: Sequence[float], q: float) -> float:
    """The q-th percentile of sorted values, interpolating between neighbours."""
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class ProcessStats:
    """What a fresh process pays to load the model and classify `images` files."""

    images: int
    import_s: float  # importing edge_all.runtime.classifier (numpy, pillow, the interpreter)
    load_s: float  # Classifier.load: sha256 check, interpreter, tensor allocation
    first_prediction_s: float  # the first predict() (cold caches, delegate warm-up)
    import_to_first_prediction_s: float
    process_start_to_first_prediction_s: float  # also counts starting Python itself
    peak_rss_mb: float  # VmHWM of the process: its own high-water mark, not its parent's
    tensorflow_imported: bool  # must be False: the runtime never imports TensorFlow


@dataclass(frozen=True)
class BenchmarkResult:
    model: str
    precision: str | None  # from bundle.json; None for a plain .tflite
    model_bytes: int
    input_shape: list[int]
    input_dtype: str
    backend: dict[str, Any]  # name, version, delegate, threads
    machine: dict[str, Any]  # cpu, cores, platform, python
    warmup: int
    images: str  # what the timing loop classified
    invoke: LatencyStats  # interpreter.invoke() only
    predict: LatencyStats  # the whole Classifier.predict(path)
    overhead: LatencyStats  # predict minus invoke, per image: what the runtime adds
    throughput_per_s: float  # images per second, one at a time, through predict()
    process: ProcessStats | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---- inputs -------------------------------------------------------------------------------------
def synthetic_smear(rng: Any, height: int, width: int) -> Any:
    """A smear-like RGB picture (pink field, red cells, one purple nucleus, sensor noise).

    JPEG decode time depends on image content; flat noise or a flat colour would mislead it.
    """
    import numpy as np

    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.empty((height, width, 3), np.float32)
    image[:] = (235, 200, 205)
    scale = min(height, width)
    for _ in range(int(rng.integers(6, 12))):
        cy, cx, r = rng.uniform(0, height), rng.uniform(0, width), rng.uniform(0.06, 0.09) * scale
        image[(yy - cy) ** 2 + (xx - cx) ** 2 < r**2] = (215, 140, 150)
    r = 0.15 * scale
    image[(yy - height / 2) ** 2 + (xx - width / 2) ** 2 < r**2] = (120, 60, 150)
    image += rng.normal(0, 8, image.shape).astype(np.float32)
    return np.clip(image, 0, 255).astype(np.uint8)


def write_synthetic_images(folder: Path, count: int, height: int, width: int, seed: int = 0) -> list[Path]:
    """JPEG files (quality 90, like a camera's) of synthetic smears at the given size."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"synthetic-{i:03d}.jpg"
        Image.fromarray(synthetic_smear(rng, height, width)).save(path, quality=90)
        paths.append(path)
    return paths


def image_files(folder: Path) -> list[Path]:
    """The images of a folder (recursively), through the runtime's own input expansion."""
    from edge_all.runtime.inputs import expand_inputs

    found = expand_inputs([str(folder)])
    if not found.files:
        raise BenchmarkError(f"{folder}: no images found")
    return list(found.files)


# ---- in-process latency -------------------------------------------------------------------------
def readable_images(classifier: Any, images: Sequence[Path]) -> list[Path]:
    """The images the classifier can read; each unreadable one is named once on stderr and left out."""
    from edge_all.runtime.images import ImageError

    usable = []
    for path in images:
        try:
            classifier.predict(path)
        except ImageError as exc:
            print(f"warning: {exc}", file=sys.stderr)
            continue
        usable.append(path)
    if not usable:
        raise BenchmarkError("none of the benchmark images could be read")
    return usable


def time_predictions(
    classifier: Any, images: Sequence[Path], runs: int, warmup: int
) -> tuple[list[float], list[float], float]:
    """Per-image (invoke ms, predict ms) over `runs` predictions cycling through `images`; wall seconds."""
    if runs < 1:
        raise BenchmarkError("runs must be at least 1")
    for i in range(warmup):
        classifier.predict(images[i % len(images)])
    invoke_ms, predict_ms = [], []
    started = time.perf_counter()
    for i in range(runs):
        begin = time.perf_counter()
        prediction = classifier.predict(images[i % len(images)])
        predict_ms.append((time.perf_counter() - begin) * 1000.0)
        invoke_ms.append(prediction.inference_ms)
    return invoke_ms, predict_ms, time.perf_counter() - started


# ---- a fresh process ----------------------------------------------------------------------------
def _peak_rss_mb() -> float:
    """This process's resident-memory high-water mark.

    /proc/self/status VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over from the
    parent across fork+exec, so a child of a large process (pytest with TensorFlow loaded, say)
    would report the parent's peak, not its own.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource  # macOS and BSDs: no /proc; ru_maxrss is in bytes on macOS, KiB elsewhere

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0


def measure_process(
    model: Path,
    images: Sequence[Path],
    labels: Path | None = None,
    threads: int | None = None,
    edgetpu: bool = False,
) -> ProcessStats:
    """Start `python -m edge_all.runtime.benchmark` to load the model and classify `images`; what it paid."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as listing:
        listing.write("\n".join(str(p) for p in images) + "\n")
    command = [sys.executable, "-m", "edge_all.runtime.benchmark", str(model), "--image-list", listing.name]
    if labels is not None:
        command += ["--labels", str(labels)]
    if threads is not None:
        command += ["--threads", str(threads)]
    if edgetpu:
        command.append("--edgetpu")
    spawned = time.time()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise BenchmarkError(
            f"{model}: the fresh-process measurement took over {PROBE_TIMEOUT_S:g} s"
        ) from None
    finally:
        os.unlink(listing.name)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        last = lines[-1].removeprefix("error: ") if lines else f"exited with {done.returncode}"
        raise BenchmarkError(f"the fresh-process measurement failed: {last}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    report["process_start_to_first_prediction_s"] = report.pop("first_prediction_at") - spawned
    return ProcessStats(**report)


def _probe(argv: Sequence[str] | None = None) -> int:
    """The fresh process: import, load, predict once, classify the rest; print one JSON line."""
    import argparse

    started = time.perf_counter()
    parser = argparse.ArgumentParser(prog="python -m edge_all.runtime.benchmark")
    parser.add_argument("model")
    parser.add_argument("--image-list", required=True, help="a file naming one image per line")
    parser.add_argument("--labels")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--edgetpu", action="store_true")
    args = parser.parse_args(argv)
    images = [line for line in Path(args.image_list).read_text(encoding="utf-8").splitlines() if line]
    if not images:
        print("error: the image list is empty", file=sys.stderr)
        return 1

    from edge_all.runtime.classifier import Classifier

    imported = time.perf_counter()
    try:
        classifier = Classifier.load(
            args.model, labels=args.labels, threads=args.threads, edgetpu=args.edgetpu
        )
    except EdgeAllError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    loaded = time.perf_counter()
    classifier.predict(images[0])
    first = time.perf_counter()
    first_wall = time.time()
    for path in images[1:]:
        classifier.predict(path)
    report = {
        "images": len(images),
        "import_s": imported - started,
        "load_s": loaded - imported,
        "first_prediction_s": first - loaded,
        "import_to_first_prediction_s": first - started,
        "first_prediction_at": first_wall,
        "peak_rss_mb": _peak_rss_mb(),
        "tensorflow_imported": "tensorflow" in sys.modules,
    }
    print(json.dumps(report))
    return 0


# ---- the whole benchmark ------------------------------------------------------------------------
def machine_facts() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            for line in info:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model") and value.strip():
                    cpu = value.strip()  # x86 says "model name"; a Raspberry Pi's board is "Model"
                    break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "platform": f"{platform.system()} {platform.machine()}",
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in load] if load else None,
    }


def run_benchmark(
    model: Path,
    labels: Path | None = None,
    runs: int = DEFAULT_RUNS,
    warmup: int = DEFAULT_WARMUP,
    threads: int | None = None,
    edgetpu: bool = False,
    images: Path | None = None,
    fresh_process: bool = True,
) -> BenchmarkResult:
    """Benchmark a bundle or plain .tflite: latency in this process, then a fresh process.

    The fresh process starts only after this process has let go of its interpreter: a Coral USB
    Accelerator serves one process at a time, and a small board should not hold the model twice.
    """
    from edge_all.runtime.classifier import Classifier

    with tempfile.TemporaryDirectory(prefix="edge-all-benchmark-") as scratch:
        classifier = Classifier.load(model, labels=labels, threads=threads, edgetpu=edgetpu)
        height, width = classifier.input_size
        if images is not None:
            files = readable_images(classifier, image_files(images))
            described = f"{len(files)} images from {images}"
        else:
            files = write_synthetic_images(Path(scratch), DISTINCT_IMAGES, height, width)
            described = f"{len(files)} synthetic {width}x{height} JPEG smears"
        invoke_ms, predict_ms, wall = time_predictions(classifier, files, runs, warmup)
        loaded = classifier.describe()
        facts = {
            "model": str(model),
            "precision": loaded["bundle"]["precision"] if loaded["bundle"] else None,
            "model_bytes": classifier.model_path.stat().st_size,
            "input_shape": loaded["input"]["shape"],
            "input_dtype": loaded["input"]["dtype"],
            "backend": asdict(classifier.backend),
        }
        del classifier  # the interpreter (and an Edge TPU delegate) go before the fresh process starts
        gc.collect()
        process = None
        if fresh_process:
            probe_files = [files[i % len(files)] for i in range(PROBE_IMAGES)]
            process = measure_process(model, probe_files, labels, threads, edgetpu)
    return BenchmarkResult(
        **facts,
        machine=machine_facts(),
        warmup=warmup,
        images=described,
        invoke=LatencyStats.from_ms(invoke_ms),
        predict=LatencyStats.from_ms(predict_ms),
        overhead=LatencyStats.from_ms([p - i for p, i in zip(predict_ms, invoke_ms, strict=True)]),
        throughput_per_s=runs / wall if wall > 0 else float("inf"),
        process=process,
    )


def format_table(result: BenchmarkResult) -> str:
    """The human-readable report of `edge-all benchmark`."""
    backend = result.backend
    machine = result.machine
    size = result.model_bytes / (1024 * 1024)
    lines = [
        f"model:    {result.model} ({result.precision or 'plain .tflite'}, {size:.2f} MiB, "
        f"input {result.input_shape} {result.input_dtype})",
        f"backend:  {backend['name']} {backend['version']}, delegate {backend['delegate'] or 'none (CPU)'}, "
        f"{backend['threads']} thread(s)",
        f"machine:  {machine['cpu']}, {machine['cores']} cores, {machine['platform']}"
        + (f", load average {machine['load_average'][0]:.2f}" if machine["load_average"] else ""),
        f"timing:   {result.predict.runs} predictions after {result.warmup} warm-up, on {result.images}",
        "",
        f"{'latency (ms)':<28}{'p50':>9}{'p90':>9}{'p99':>9}{'mean':>9}",
    ]
    rows = (
        ("invoke() (the interpreter)", result.invoke),
        ("predict() (file to result)", result.predict),
        ("runtime overhead", result.overhead),
    )
    for name, stats in rows:
        lines.append(
            f"{name:<28}{stats.p50_ms:>9.2f}{stats.p90_ms:>9.2f}{stats.p99_ms:>9.2f}{stats.mean_ms:>9.2f}"
        )
    lines += ["", f"throughput: {result.throughput_per_s:.1f} images/s (predict(), one image at a time)"]
    process = result.process
    if process is not None:
        lines += [
            f"start-up:   {process.import_to_first_prediction_s:.2f} s import to first prediction "
            f"(import {process.import_s:.2f} s, load {process.load_s:.2f} s, first predict "
            f"{process.first_prediction_s:.2f} s); {process.process_start_to_first_prediction_s:.2f} s "
            "from process start",
            f"peak RSS:   {process.peak_rss_mb:.0f} MB (a fresh process: load, then classify "
            f"{process.images} images)",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(_probe())
