"""`edge-all benchmark`: latency percentiles, throughput, start-up time and peak memory on this device.

Only typer and the standard library at module level (numpy, pillow and the interpreter load inside
the command), like every other command module.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from edge_all.cli.options import EdgeTpuOption, LabelsOption, ThreadsOption
from edge_all.exit_codes import EPILOG
from edge_all.runtime.benchmark import DEFAULT_RUNS, DEFAULT_WARMUP


def benchmark(
    model: Annotated[
        Path, typer.Argument(metavar="BUNDLE", help="A bundle directory, or a plain .tflite model.")
    ],
    runs: Annotated[int, typer.Option("--runs", min=1, help="Timed predictions.")] = DEFAULT_RUNS,
    warmup: Annotated[
        int, typer.Option("--warmup", min=0, help="Untimed predictions first.")
    ] = DEFAULT_WARMUP,
    threads: ThreadsOption = None,
    edgetpu: EdgeTpuOption = False,
    labels: LabelsOption = None,
    images: Annotated[
        Path | None,
        typer.Option(
            "--images", help="Time these images (a folder) instead of synthetic JPEGs at the input size."
        ),
    ] = None,
    no_startup: Annotated[
        bool,
        typer.Option(
            "--no-startup", help="Skip the fresh-process measurement (start-up time and peak memory)."
        ),
    ] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the results as one JSON object.")
    ] = False,
) -> None:
    """Time a model on this device: p50/p90/p99 latency, throughput, start-up time, peak RSS.

    Latency: Classifier.predict on JPEG files (decode, preprocessing, invoke(), output), after warm-up.
    It is split into the interpreter's invoke() and the runtime's own overhead around it.
    Start-up (import to first prediction) and peak RSS: a fresh process loads it and classifies 100 images.
    """
    from edge_all.runtime.benchmark import format_table, run_benchmark

    result = run_benchmark(
        model,
        labels=labels,
        runs=runs,
        warmup=warmup,
        threads=threads,
        edgetpu=edgetpu,
        images=images,
        fresh_process=not no_startup,
    )
    if json_output:
        typer.echo(json.dumps(result.to_dict(), indent=2))
    else:
        typer.echo(format_table(result))


def register(app: typer.Typer) -> None:
    """Add `benchmark` to the `edge-all` app."""
    app.command("benchmark", epilog=EPILOG)(benchmark)
