"""Turn a benchmark results file into the markdown tables of docs/performance.md, the targets, and plots.

    python -m benchmarks.report [benchmarks/results/latest.json] [--img docs/img]

`make benchmark` prints the same tables at the end of its run; this also draws the PNGs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"
IMG = Path(__file__).resolve().parents[1] / "docs" / "img"
MIB = 1024 * 1024
NAMES = {"resnet50": "ResNet50", "mobilenetv2": "MobileNetV2"}

# The targets, measured on the 2-core benchmark machine.
MAX_INT8_SIZE_FRACTION = 0.27
MAX_OVERHEAD_FRACTION = 0.15
MAX_PEAK_RSS_MB = 150.0
MAX_STARTUP_S = 1.5
# The overhead target's frames: as the dataset's images, as a camera asked for the model's size
# delivers them, and an HD frame (video, or a camera saving full frames) shrunk at the source.
TARGET_FRAMES = {
    "224x224": "224x224 frame",
    "320x240": "320x240 camera frame",
    "1920x1080": "1920x1080 frame shrunk at the source",
}


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _ms(value: float | None) -> str:
    return "n/a" if value is None else (f"{value:.2f}" if value < 10 else f"{value:.1f}")


def _ratio(a: float | None, b: float | None) -> str:
    return "n/a" if a is None or b is None or b == 0 else f"{a / b:.2f}x"


def _pct(a: float | None, b: float | None) -> str:
    return "n/a" if a is None or b is None or b == 0 else f"{100 * a / b:.1f} %"


def machine_section(data: dict[str, Any]) -> str:
    start, end = data["machine_at_start"], data.get("machine_at_end", {})
    load = start.get("load_average")
    load_end = end.get("load_average")
    return (
        f"Machine: {start['cpu']}, {start['cores']} cores, {start['platform']}, Python {start['python']}. "
        f"Started {data['started']}; load average (1/5/15 min) {load} at the start, {load_end} at the end. "
        f"{data['rounds']} timed rounds per latency case (median reported), "
        f"{data['process_rounds']} fresh processes per start-up case."
    )


def files_section(files: dict[str, Any]) -> str:
    rows = []
    for item in files.values():
        rows.append(
            [
                NAMES[item["backbone"]],
                item["precision"],
                f"{item['bytes'] / MIB:.2f}",
                _pct(item["bytes"], item["float32_bytes"]),
                _ms(item.get("load_ms")),
            ]
        )
    return _table(["model", "precision", "size (MiB)", "of float32", "Classifier.load (ms)"], rows)


def latency_section(latency: dict[str, Any]) -> str:
    rows = []
    for item in latency.values():
        rows.append(
            [
                NAMES[item["backbone"]],
                item["precision"],
                str(item["threads"]),
                _ms(item.get("invoke_ms")),
                _ms(item.get("runtime_ms")),
                _ms(item.get("bare_ms")),
                _ms(item.get("tool_ms")),
                _ratio(item.get("runtime_ms"), item.get("bare_ms")),
                _ratio(item.get("invoke_ms"), item.get("tool_ms")),
            ]
        )
    header = [
        "model",
        "precision",
        "threads",
        "invoke() (ms)",
        "runtime predict_pixels (ms)",
        "bare interpreter (ms)",
        "LiteRT tool (ms)",
        "runtime / bare",
        "invoke / tool",
    ]
    return _table(header, rows)


def keras_section(keras: dict[str, Any], latency: dict[str, Any]) -> str:
    rows = []
    for backbone, item in keras.items():
        float32 = latency.get(f"{backbone}/float32/2", {}).get("runtime_ms")
        int8 = latency.get(f"{backbone}/int8/2", {}).get("runtime_ms")
        calls = [item.get(k) for k in ("direct_call_ms", "predict_on_batch_ms", "predict_ms")]
        fastest = min((c for c in calls if c is not None), default=None)
        rows.append(
            [NAMES[backbone]]
            + [_ms(c) for c in calls]
            + [_ms(float32), _ms(int8), _ratio(fastest, float32), _ratio(fastest, int8)]
        )
    header = [
        "model",
        "Keras model(x) (ms)",
        "Keras predict_on_batch (ms)",
        "Keras predict (ms)",
        "runtime float32, 2 threads (ms)",
        "runtime int8, 2 threads (ms)",
        "fastest Keras / float32",
        "fastest Keras / int8",
    ]
    return _table(header, rows)


def preprocessing_section(data: dict[str, Any]) -> str:
    sections = data["sections"]
    invoke = sections.get("latency", {}).get("resnet50/int8/2", {}).get("invoke_ms")
    gate = sections.get("quality_gate", {})
    candidate = sections.get("preprocessing_candidate", {})
    rows = []
    for name, item in sections.get("preprocessing", {}).items():
        other = candidate.get(name)
        rows.append(
            [
                name,
                _ms(item["ms"]),
                _pct(item["ms"], invoke),
                _ms(gate.get(name, {}).get("ms")) if name in gate else "",
                f"{_ms(other['ms'])} (max pixel difference {other['max_abs_diff']}, mean "
                f"{other['mean_abs_diff']:.2f})"
                if other
                else "",
            ]
        )
    header = [
        "input -> 224x224 pixels",
        "prepare (ms)",
        "of ResNet50 int8 invoke()",
        "quality gate (ms)",
        "candidate change (ms)",
    ]
    return _table(header, rows)


def overhead_section(overhead: dict[str, Any]) -> str:
    rows = []
    for item in overhead.values():
        rows.append(
            [
                f"{NAMES[item['backbone']]} int8",
                item["frame"],
                _ms(item.get("source_ms")),
                _ms(item["predict_ms"]),
                _ms(item["invoke_ms"]),
                _ms(item["overhead_ms"]),
                _pct(item["overhead_ms"], item["invoke_ms"]),
                f"{_ms(item.get('fastest_overhead_ms'))} / {_ms(item.get('fastest_invoke_ms'))} = "
                f"{_pct(item.get('fastest_overhead_ms'), item.get('fastest_invoke_ms'))}",
            ]
        )
    header = [
        "model",
        "frame handed over",
        "source: shrink + RGB (ms)",
        "predict(frame) (ms)",
        "invoke() (ms)",
        "overhead (ms)",
        "of invoke()",
        "fastest rounds: overhead / invoke",
    ]
    return _table(header, rows)


def source_shrink_section(shrink: dict[str, Any]) -> str:
    rows = [
        [name, _ms(item["ms"]), _ms(item["gate_ms"]), f"{item['focus_ratio']:.2f}"]
        for name, item in shrink.items()
    ]
    header = [
        "frame -> shrunk at the source",
        "shrink + RGB (ms)",
        "quality gate after (ms)",
        "focus / gate's own",
    ]
    return _table(header, rows)


def capture_section(capture: dict[str, Any], parts: dict[str, Any]) -> str:
    rows = []
    for item in capture.values():
        rows.append(
            [
                f"{NAMES[item['backbone']]} int8",
                item["frame"],
                _ms(item["per_frame_ms"]),
                _ms(item["invoke_ms"]),
                _ratio(item["per_frame_ms"], item["invoke_ms"]),
                f"{1000.0 / item['per_frame_ms']:.1f}",
            ]
        )
    header = ["model", "video frame", "per frame (ms)", "invoke() (ms)", "frame / invoke", "frames/s"]
    table = _table(header, rows)
    if parts:
        table += "\n\nParts of the loop:\n\n" + _table(
            ["step", "ms (median)"], [[name, _ms(item["ms"])] for name, item in parts.items()]
        )
    return table


def process_section(process: dict[str, Any]) -> str:
    rows = []
    for item in process.values():
        rows.append(
            [
                NAMES[item["backbone"]],
                item["precision"],
                f"{item['import_s']:.2f}",
                f"{item['load_s']:.2f}",
                f"{item['first_prediction_s']:.2f}",
                f"{item['import_to_first_prediction_s']:.2f}",
                f"{item['process_start_to_first_prediction_s']:.2f}",
                f"{item['peak_rss_mb']:.0f}",
            ]
        )
    header = [
        "model",
        "precision",
        "import (s)",
        "load (s)",
        "1st predict (s)",
        "import to 1st prediction (s)",
        "process start to 1st prediction (s)",
        "peak RSS, 100 images (MB)",
    ]
    return _table(header, rows)


def imports_section(imports: dict[str, Any]) -> str:
    item = imports.get("runtime", {})
    rows = [[f"`{name}`", _ms(ms)] for name, ms in item.get("modules_ms", {}).items()]
    whole = "whole process (Python start, imports, finding the interpreter)"
    rows.append([whole, _ms(item.get("process_ms"))])
    return _table(["import (cumulative, where first imported)", "ms"], rows)


def targets(data: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    """(target, measured, met) for each of the issue's targets; met is None when not measured."""
    sections = data["sections"]
    out: list[tuple[str, str, bool | None]] = []
    size = sections.get("files", {}).get("resnet50-int8")
    if size:
        fraction = size["bytes"] / size["float32_bytes"]
        out.append(
            (
                f"int8 ResNet50 file <= {MAX_INT8_SIZE_FRACTION:.0%} of float32",
                f"{fraction:.1%} ({size['bytes'] / MIB:.1f} of {size['float32_bytes'] / MIB:.1f} MiB)",
                fraction <= MAX_INT8_SIZE_FRACTION,
            )
        )
    else:
        out.append((f"int8 ResNet50 file <= {MAX_INT8_SIZE_FRACTION:.0%} of float32", "not measured", None))
    for frame, what in TARGET_FRAMES.items():
        item = sections.get("overhead", {}).get(f"resnet50-int8/{frame}")
        name = f"runtime overhead < {MAX_OVERHEAD_FRACTION:.0%} of invoke(), ResNet50 int8, {what}"
        if item:
            fraction = item["overhead_ms"] / item["invoke_ms"]
            measured = f"{fraction:.1%} ({item['overhead_ms']:.2f} of {item['invoke_ms']:.1f} ms)"
            if "fastest_invoke_ms" in item:
                fastest = item["fastest_overhead_ms"] / item["fastest_invoke_ms"]
                measured += f"; fastest rounds {fastest:.1%}"
                fraction = max(fraction, fastest)  # met only if met both ways
            out.append((name, measured, fraction < MAX_OVERHEAD_FRACTION))
        else:
            out.append((name, "not measured", None))
    process = sections.get("process", {}).get("resnet50-int8")
    rss_name = f"peak RSS < {MAX_PEAK_RSS_MB:.0f} MB, ResNet50 int8 loaded, 100 images"
    start_name = f"import to first prediction < {MAX_STARTUP_S} s, ResNet50 int8"
    if process:
        out.append((rss_name, f"{process['peak_rss_mb']:.0f} MB", process["peak_rss_mb"] < MAX_PEAK_RSS_MB))
        startup = process["import_to_first_prediction_s"]
        from_start = process["process_start_to_first_prediction_s"]
        measured = f"{startup:.2f} s ({from_start:.2f} s from process start)"
        out.append((start_name, measured, startup < MAX_STARTUP_S))
    else:
        out += [(rss_name, "not measured", None), (start_name, "not measured", None)]
    return out


def targets_section(data: dict[str, Any]) -> str:
    verdict = {True: "met", False: "MISSED", None: "not measured"}
    return _table(["target", "measured", "result"], [[t, m, verdict[ok]] for t, m, ok in targets(data)])


def format_report(data: dict[str, Any]) -> str:
    """Every table the run has data for, in docs/performance.md's order."""
    sections = data["sections"]
    parts = [machine_section(data)]
    if "files" in sections:
        parts += ["Model files", files_section(sections["files"])]
    if "latency" in sections:
        parts += ["Inference latency per image", latency_section(sections["latency"])]
    if "keras" in sections:
        parts += ["Float Keras reference", keras_section(sections["keras"], sections.get("latency", {}))]
    if "preprocessing" in sections:
        parts += ["Preprocessing", preprocessing_section(data)]
    if "source_shrink" in sections:
        parts += ["Shrink at the source", source_shrink_section(sections["source_shrink"])]
    if "overhead" in sections:
        parts += ["Runtime overhead per camera frame", overhead_section(sections["overhead"])]
    if "capture" in sections:
        parts += [
            "capture-and-classify per frame (video source)",
            capture_section(sections["capture"], sections.get("capture_parts", {})),
        ]
    if "process" in sections:
        parts += ["Fresh process: start-up and peak memory", process_section(sections["process"])]
    if "imports" in sections:
        parts += ["Start-up imports", imports_section(sections["imports"])]
    parts += ["Targets", targets_section(data)]
    return "\n\n".join(parts)


# ---- plots ----------------------------------------------------------------------------------------
def plot_latency(data: dict[str, Any], path: Path) -> None:
    """Bars: invoke() by model, precision and threads, the Keras float reference as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    latency = data["sections"]["latency"]
    keras = data["sections"].get("keras", {})
    precisions = ["float32", "float16", "int8"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for ax, backbone in zip(axes, ("resnet50", "mobilenetv2"), strict=True):
        width = 0.38
        for k, threads in enumerate((1, 2)):
            values = [latency.get(f"{backbone}/{p}/{threads}", {}).get("invoke_ms", 0) for p in precisions]
            xs = [i + (k - 0.5) * width for i in range(len(precisions))]
            bars = ax.bar(xs, values, width, label=f"{threads} thread{'s' if threads > 1 else ''}")
            ax.bar_label(bars, fmt="%.0f", fontsize=8)
        calls = {
            name: keras.get(backbone, {}).get(key)
            for name, key in (("model(x)", "direct_call_ms"), ("predict_on_batch", "predict_on_batch_ms"))
        }
        calls = {name: ms for name, ms in calls.items() if ms}
        if calls:
            name, fastest = min(calls.items(), key=lambda item: item[1])
            ax.axhline(fastest, color="grey", linestyle="--", label=f"Keras float32 {name}, 2 cores")
        ax.set_xticks(range(len(precisions)), precisions)
        ax.set_title(f"{NAMES[backbone]} 224x224")
        ax.set_ylabel("invoke() per image (ms, median)")
        ax.legend(fontsize=8)
    cpu = data["machine_at_start"]["cpu"]
    fig.suptitle(f"LiteRT latency, {cpu}, {data['machine_at_start']['cores']} cores", fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_frame_cost(data: dict[str, Any], path: Path) -> None:
    """Stacked bars per frame: invoke(), the runtime's overhead, the rest of the capture loop."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    overhead = data["sections"].get("overhead", {})
    capture = data["sections"].get("capture", {})
    labels, invoke, runtime, loop = [], [], [], []
    for key, item in capture.items():
        extra = overhead.get(key, {})
        labels.append(f"{NAMES[item['backbone']]} int8\n{item['frame']}")
        invoke.append(item["invoke_ms"])
        runtime.append(extra.get("overhead_ms", 0.0))
        loop.append(max(0.0, item["per_frame_ms"] - item["invoke_ms"] - extra.get("overhead_ms", 0.0)))
    fig, ax = plt.subplots(figsize=(8, 4), constrained_layout=True)
    ax.bar(labels, invoke, label="invoke()")
    ax.bar(labels, runtime, bottom=invoke, label="shrink at the source, preprocessing, bookkeeping")
    bottoms = [a + b for a, b in zip(invoke, runtime, strict=True)]
    ax.bar(labels, loop, bottom=bottoms, label="capture loop: video decode, quality gate, SQLite")
    ax.set_ylabel("ms per frame (median)")
    start = data["machine_at_start"]
    ax.set_title(
        f"capture-and-classify: where a frame's time goes ({start['cpu']}, {start['cores']} cores, "
        f"load {start['load_average'][0]})",
        fontsize=10,
    )
    ax.legend(fontsize=8, loc="upper left")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report", description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="?", type=Path, default=RESULTS)
    parser.add_argument("--img", type=Path, default=IMG, help="folder for the PNG plots")
    args = parser.parse_args(argv)
    data = json.loads(args.results.read_text(encoding="utf-8"))
    print(format_report(data))
    if "latency" in data["sections"]:
        plot_latency(data, args.img / "latency.png")
        print(f"\nwrote {args.img / 'latency.png'}")
    if "capture" in data["sections"]:
        plot_frame_cost(data, args.img / "frame_cost.png")
        print(f"wrote {args.img / 'frame_cost.png'}")


if __name__ == "__main__":
    main()
