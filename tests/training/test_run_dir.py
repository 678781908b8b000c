"""The run dir contract: what open_run accepts, what it refuses in one line, and what train writes."""

from __future__ import annotations

import json
import os
import socket

import pytest

from training.dataset import CLASSES
from training.run_dir import (
    FORMAT_VERSION,
    PROGRESS_FILE,
    RunError,
    RunInfo,
    open_run,
    write_config,
    write_json,
)

INFO = RunInfo(CLASSES, 96, "mobilenetv2", {"color_order": "RGB", "resize": "bilinear", "crop": "center"})


def finished_run(folder):
    """A run dir with every file open_run checks for (the model and split are stand-ins: it reads neither)."""
    folder.mkdir()
    (folder / "model.keras").write_bytes(b"stand-in")
    (folder / "split.json").write_text("{}")
    write_config(folder, INFO, {"backbone": INFO.backbone, "epochs": 3}, {"best_epoch": 2})
    return folder


def test_a_finished_run_opens_with_what_config_json_records(tmp_path):
    run = open_run(finished_run(tmp_path / "run"))
    assert run.info == INFO
    assert run.model_path == tmp_path / "run" / "model.keras"
    assert run.split_path == tmp_path / "run" / "split.json"
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["format_version"] == FORMAT_VERSION == 1
    assert config["config"] == {"backbone": "mobilenetv2", "epochs": 3} and config["best_epoch"] == 2
    assert config["input"] == {"shape": [96, 96, 3], "range": [0, 255], "dtype": "float32"}


def test_train_writes_a_run_that_opens(trained_run):
    info = open_run(trained_run).info
    assert info.classes == CLASSES and info.image_size == 64 and info.backbone == "tiny"
    assert info.preprocessing == {"color_order": "RGB", "resize": "bilinear", "crop": "center"}
    assert json.loads((trained_run / "config.json").read_text())["format_version"] == FORMAT_VERSION


@pytest.mark.parametrize(
    ("remove", "message"),
    [
        ("model.keras", "no model.keras (not a training run dir, or training did not finish)"),
        ("split.json", "no split.json (the split training used is needed)"),
        ("config.json", "no config.json (training did not finish)"),
    ],
)
def test_an_incomplete_run_is_refused_naming_the_missing_file(tmp_path, remove, message):
    run = finished_run(tmp_path / "run")
    (run / remove).unlink()
    with pytest.raises(RunError) as error:
        open_run(run)
    assert str(error.value) == f"{run}: {message}"


def test_a_missing_run_dir(tmp_path):
    with pytest.raises(RunError, match="run dir not found"):
        open_run(tmp_path / "nowhere")


def test_a_run_from_an_unknown_format_or_with_a_damaged_config_is_refused(tmp_path):
    run = finished_run(tmp_path / "run")
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "format_version": 2}))
    with pytest.raises(RunError, match="run format version 2 is not supported"):
        open_run(run)
    (run / "config.json").write_text(json.dumps({**config, "classes": None}))
    with pytest.raises(RunError, match="unreadable run config"):
        open_run(run)
    (run / "config.json").write_text("{half a file")
    with pytest.raises(RunError, match="unreadable run config"):
        open_run(run)


def test_a_run_written_before_the_format_version_reads_as_version_1(tmp_path):
    run = finished_run(tmp_path / "run")
    config = json.loads((run / "config.json").read_text())
    del config["format_version"]
    (run / "config.json").write_text(json.dumps(config))
    assert open_run(run).info == INFO


@pytest.mark.parametrize(
    ("progress", "says"),
    [
        ({"status": "finished"}, None),
        (
            {"status": "stopped", "reason": "interrupted (Ctrl-C or SIGTERM)", "epochs_done": 5,
             "phase": "fine-tune", "phase_epoch": 2, "phase_epochs": 4},
            "stopped after epoch 2 of 4 of its fine-tune phase: interrupted (Ctrl-C or SIGTERM)",
        ),
        (  # this very process: alive
            {"status": "running", "epochs_done": 0, "pid": os.getpid(), "host": socket.gethostname()},
            f"still training in process {os.getpid()}, before its first epoch ended",
        ),
        (  # a process that is gone (SIGKILL, power cut): nothing could be written
            {"status": "running", "epochs_done": 1, "phase": "head", "phase_epoch": 1, "phase_epochs": 3,
             "pid": 2**22 + 1, "host": socket.gethostname()},
            "stopped after epoch 1 of 3 of its head phase without a word: killed, crashed or a power cut",
        ),
    ],
)  # fmt: skip
def test_an_unfinished_run_is_refused_saying_where_it_stopped_and_how_to_resume(tmp_path, progress, says):
    """Even with every file present (a run that stopped while writing its reports)."""
    run = finished_run(tmp_path / "run")
    write_json(run / PROGRESS_FILE, progress)
    if says is None:
        assert open_run(run).info == INFO
        return
    with pytest.raises(RunError) as error:
        open_run(run)
    assert str(error.value) == (
        f"{run}: training did not finish ({says}); continue it with `edge-all train --resume --out {run}` "
        "and the options it started with"
    )


def test_a_run_trained_on_another_host_is_not_guessed_dead(tmp_path):
    run = finished_run(tmp_path / "run")
    write_json(run / PROGRESS_FILE, {"status": "running", "epochs_done": 0, "pid": 7, "host": "gpu-node-3"})
    with pytest.raises(
        RunError, match=r"process 7 on gpu-node-3 last reported progress before its first epoch"
    ):
        open_run(run)
