"""A watched folder whose writer pauses longer than the settle time (a slow share, a camera program
between two writes): the half-written image was recorded as truncated and never looked at again.
Now an unreadable file is read again when it changes, and recorded as an error only once it has
stayed unchanged and unreadable for a longer grace time; a recorded one that changes is read again."""

from __future__ import annotations

import io
import time

from PIL import Image

from edge_all.capture.folder_source import FolderSource
from edge_all.results.store import ResultsStore

PAUSE = 1.5  # longer than the settle time, shorter than the grace time


def png_bytes(rgb) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


class Clock:
    """The clock the folder source measures settle and grace times with, stepped by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def poll(source: FolderSource, clock: Clock, seconds: float, step: float = 0.05) -> list:
    """What the source hands out while `seconds` pass on its clock, looked at every `step`."""
    frames = []
    for _ in range(round(seconds / step)):
        clock.now += step
        frame = source.read()
        if frame is not None:
            frames.append(frame)
    return frames


def test_a_file_whose_writer_pauses_is_read_whole_once_it_is_finished(tmp_path, smears):
    data = png_bytes(smears[0])
    (tmp_path / "field.png").write_bytes(data[: len(data) // 2])
    clock = Clock()
    source = FolderSource("folder:x", tmp_path, settle_seconds=0.2, grace_seconds=30, clock=clock)
    source.open()
    assert poll(source, clock, PAUSE) == []  # settled but unreadable: waiting, not recorded
    with open(tmp_path / "field.png", "ab") as handle:
        handle.write(data[len(data) // 2 :])
    (frame,) = poll(source, clock, 1.0)
    assert frame.error is None and frame.rgb.shape == smears[0].shape and frame.index == 0


def test_a_file_that_stays_unreadable_is_recorded_after_the_grace_time_and_read_again_if_it_changes(
    tmp_path, smears
):
    data = png_bytes(smears[1])
    (tmp_path / "field.png").write_bytes(data[: len(data) // 2])
    clock = Clock()
    source = FolderSource("folder:x", tmp_path, settle_seconds=0.1, grace_seconds=0.6, clock=clock)
    source.open()
    assert poll(source, clock, 0.5) == []  # unreadable, still within the grace time
    (error,) = poll(source, clock, 1.0)
    assert error.rgb is None and "truncated" in error.error
    with open(tmp_path / "field.png", "ab") as handle:  # its writer came back after all
        handle.write(data[len(data) // 2 :])
    (whole,) = poll(source, clock, 1.0)
    assert whole.error is None and whole.index == 1 and whole.origin == error.origin


def test_a_capture_records_a_paused_file_once_whole(tmp_path, int8_bundle, smears, running):
    folder, db = tmp_path / "drop", tmp_path / "results.db"
    folder.mkdir()
    data = png_bytes(smears[0])
    capture = running(
        "capture-and-classify", "--model", int8_bundle, "--camera", f"folder:{folder}", "--settle", "0.3",
        "--db", db, "--count", "1", "--duration", "60",
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not db.exists():  # the capture has loaded its model and is watching the folder
        assert time.monotonic() < deadline and capture.process.poll() is None
        time.sleep(0.05)
    (folder / "field.png").write_bytes(data[: len(data) // 2])
    time.sleep(PAUSE + 0.5)  # the file has long settled, half written (grace: 10 x 0.3 s)
    with open(folder / "field.png", "ab") as handle:
        handle.write(data[len(data) // 2 :])
    code, out, err = capture.finish()
    assert code == 0, err
    with ResultsStore.open(db, create=False) as store:
        (row,) = store.captures()
    assert row["status"] in ("classified", "uncertain"), row["reason"]
