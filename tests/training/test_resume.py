"""Resumable training: a run killed mid-epoch (SIGKILL) continues with --resume exactly where it was."""

from __future__ import annotations

import json
import signal
import time

import pytest

from tests.cli_runner import run_edge_all, start_edge_all
from tests.training.test_cli import assert_one_line_error

# A frozen backbone from a weights file, so the run has both phases: the head on cached features
# (3 epochs), then fine-tuning the top block on images (4 epochs; patience 5: no early stop).
EPOCHS, FINE_TUNE_EPOCHS = 3, 4


@pytest.fixture(scope="module")
def backbone_file(tmp_path_factory, trained_run):
    from training.models import load_model

    path = tmp_path_factory.mktemp("weights") / "tiny.weights.h5"
    load_model(trained_run / "model.keras").get_layer("tiny").save_weights(path)
    return path


def train_args(data, out, weights):
    return [
        "train", "--data", data, "--out", out, "--backbone", "tiny", "--weights", weights,
        "--epochs", EPOCHS, "--fine-tune-epochs", FINE_TUNE_EPOCHS, "--fine-tune-layers", 4,
        "--fine-tune-lr", 1e-3, "--batch-size", 16, "--image-size", 32, "--quiet",
    ]  # fmt: skip


def read_json(path):
    return json.loads(path.read_text())


def wait_until(proc, run, log, done):
    """Poll progress.json (rewritten after every committed epoch) until `done(progress)`."""
    while proc.poll() is None:
        try:
            progress = read_json(run / "progress.json")
        except (FileNotFoundError, json.JSONDecodeError):
            progress = {}
        if done(progress):
            return progress
        time.sleep(0.02)
    pytest.fail(
        f"training ended (exit {proc.returncode}) before it could be stopped:\n{log.read_text()[-3000:]}"
    )


def rows(history):
    return [dict(zip(history, values, strict=True)) for values in zip(*history.values(), strict=True)]


def test_a_killed_run_resumes_from_its_last_epoch_with_the_same_data_order(
    tmp_path, demo_data, backbone_file
):
    from training.config import TrainConfig
    from training.run_dir import RunError, open_run
    from training.train import train

    run = tmp_path / "run"
    args = train_args(demo_data.root, run, backbone_file)
    proc = start_edge_all(*args, log=tmp_path / "killed.log")
    seen = wait_until(
        proc, run, tmp_path / "killed.log", lambda p: p.get("phase") == "fine-tune" and p["phase_epoch"] >= 1
    )
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=60) == -signal.SIGKILL

    # what the killed run left: no model, a progress file that says so, the history it recorded
    assert seen["status"] == "running"
    assert not (run / "model.keras").exists() and not (run / "metrics.json").exists()
    before = rows(read_json(run / "history.json"))
    assert len(before) >= EPOCHS + 1 and before[EPOCHS]["phase"] == "fine-tune"
    with pytest.raises(RunError, match="did not finish.*without a word.*--resume"):
        open_run(run)  # so evaluate and convert refuse it, in one line
    assert_one_line_error(run_edge_all(*args), "holds an unfinished run", "--resume", "--force")
    assert_one_line_error(run_edge_all(*args, "--epochs", 5, "--resume"), "epochs 5 (the run started with 3)")

    resumed = run_edge_all(*args, "--resume", timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    # the resumed run finished, and says what happened
    progress = read_json(run / "progress.json")
    assert progress["status"] == "finished"
    assert [e["event"] for e in progress["events"]] == ["started", "resumed", "finished"]
    assert "without a word" in progress["events"][1]["after"]
    assert not (run / "resume").exists()
    assert open_run(run).info.backbone == "tiny"

    # its history is continuous: every epoch once, in order; the killed run's epochs as it recorded them
    after = rows(read_json(run / "history.json"))
    assert [r["epoch"] for r in after] == list(range(1, EPOCHS + FINE_TUNE_EPOCHS + 1))
    assert [r["phase"] for r in after] == ["head"] * EPOCHS + ["fine-tune"] * FINE_TUNE_EPOCHS
    assert after[: len(before)] == before

    # the same run, never interrupted: the same batches in every epoch, and the same learning
    config = TrainConfig(
        data=demo_data.root, out=tmp_path / "uninterrupted", backbone="tiny", weights=str(backbone_file),
        epochs=EPOCHS, fine_tune_epochs=FINE_TUNE_EPOCHS, fine_tune_layers=4, fine_tune_learning_rate=1e-3,
        batch_size=16, image_size=32, verbose=0,
    )  # fmt: skip
    reference = rows(train(config).history)
    assert [r["data_fingerprint"] for r in after] == [r["data_fingerprint"] for r in reference]
    assert len(set(r["data_fingerprint"] for r in reference)) == len(reference)  # each epoch its own order
    for got, want in zip(after, reference, strict=True):
        for key in ("loss", "val_loss", "accuracy", "val_accuracy"):
            assert got[key] == pytest.approx(want[key], rel=1e-4, abs=1e-6), (got["epoch"], key)
    config_json = read_json(run / "config.json")
    assert config_json["epochs_run"] == EPOCHS + FINE_TUNE_EPOCHS
    assert config_json["best_val_loss"] == pytest.approx(min(r["val_loss"] for r in after))


def test_sigterm_stops_a_run_in_one_line_and_the_run_dir_says_so(tmp_path, demo_data):
    """What a scheduler does before it preempts a job."""
    from training.run_dir import RunError, open_run

    run, log = tmp_path / "run", tmp_path / "stopped.log"
    args = ["train", "--data", demo_data.root, "--out", run, "--backbone", "tiny", "--weights", "none"]
    proc = start_edge_all(*args, "--epochs", 50, "--image-size", 32, "--quiet", log=log)
    wait_until(proc, run, log, lambda p: p.get("epochs_done", 0) >= 1)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 1
    assert log.read_text().splitlines()[-1] == (
        f"error: {run}: training interrupted; continue it with the same command and --resume"
    )
    progress = read_json(run / "progress.json")
    assert progress["status"] == "stopped" and progress["reason"] == "interrupted (Ctrl-C or SIGTERM)"
    assert [e["event"] for e in progress["events"]] == ["started", "stopped"]
    with pytest.raises(RunError, match=r"stopped after epoch \d+ of 50 of its full phase: interrupted"):
        open_run(run)


def test_resume_refuses_a_finished_run_and_resume_with_force(trained_run, demo_data):
    args = ["train", "--data", demo_data.root, "--out", trained_run, "--backbone", "tiny"]
    assert_one_line_error(run_edge_all(*args, "--resume"), "has nothing to resume: it finished")
    assert_one_line_error(run_edge_all(*args, "--resume", "--force"), "--resume continues", "choose one")
