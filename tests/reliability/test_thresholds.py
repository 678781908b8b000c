"""Numbers that switch a check off without a word: NaN (every comparison with it is false), infinity,
and negative values where none can mean anything. Refused by flag, by quality config and in code."""

from __future__ import annotations

import math
import os

import pytest

from edge_all.capture.options import CaptureOptions
from edge_all.errors import UsageError
from edge_all.triage.thresholds import QualityConfigError, QualityThresholds
from tests.cli_runner import run_edge_all as edge_all


def refused_before_capturing(result, *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    for fragment in fragments:
        assert fragment in line, line


def capture(tmp_path, bundle, *args):
    return edge_all(
        "capture-and-classify", "--model", bundle, "--camera", f"folder:{tmp_path}",
        "--db", tmp_path / "r.db", *args, timeout=60,
    )  # fmt: skip


# typer's own range checks refuse NaN for the options that have a range (--threshold, --interval);
# the quality thresholds have none, and infinity passes a lower bound.
@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--min-focus", "nan"),
        ("--min-brightness", "inf"),
        ("--max-clipped", "-inf"),
        ("--min-stained", "nan"),
        ("--duration", "inf"),
        ("--reconnect-timeout", "inf"),
    ],  # fmt: skip
)
def test_a_non_finite_number_flag_is_refused_before_anything_is_recorded(tmp_path, int8_bundle, flag, value):
    result = capture(tmp_path, int8_bundle, flag, value)
    refused_before_capturing(result, "must be a finite number", value)
    assert not (tmp_path / "r.db").exists()


CONFIGS = [
    ('{"min_focus": NaN}', "min_focus: must be a finite number, not nan"),
    ('{"max_brightness": Infinity}', "max_brightness: must be a finite number, not inf"),
    ('{"min_contrast": -5}', "min_contrast must be between 0 and 255, not -5"),
    ('{"max_clipped": 2}', "max_clipped must be between 0 and 1, not 2"),
    ('{"min_focus": "40"}', "min_focus: expected a number, got a string"),
    ('{"min_focus": true}', "min_focus: expected a number, got true/false"),
    ('{"min_focus": {"value": 40}}', "min_focus: expected a number, got an object"),
    ("[40, 130]", "expected a JSON object at the top, got a list"),
    ("[" * 50_000 + "]" * 50_000, "JSON nested more than 32 levels deep"),
]


@pytest.mark.parametrize(("config", "fragment"), CONFIGS, ids=range(len(CONFIGS)))
def test_a_bad_quality_config_is_one_error_naming_the_file(tmp_path, config, fragment):
    path = tmp_path / "quality.json"
    path.write_text(config)
    with pytest.raises(QualityConfigError) as caught:
        QualityThresholds.from_file(path)
    assert str(caught.value).startswith(f"{path}: ") and fragment in str(caught.value)


def test_the_command_refuses_a_bad_quality_config_in_one_line(tmp_path, int8_bundle):
    path = tmp_path / "quality.json"
    path.write_text('{"min_focus": NaN}')
    refused_before_capturing(capture(tmp_path, int8_bundle, "--quality-config", path), str(path), "finite")
    path.unlink()
    os.mkfifo(path)  # reading it would block for ever
    result = capture(tmp_path, int8_bundle, "--quality-config", path)
    refused_before_capturing(result, f"{path}: quality config is a FIFO (named pipe), not a regular file")


def test_the_dataclasses_refuse_what_a_station_form_could_send():
    for value in (math.nan, math.inf, -1.0):
        with pytest.raises(QualityConfigError):
            QualityThresholds(min_focus=value)
        with pytest.raises(UsageError):
            CaptureOptions(threshold=value)
        with pytest.raises(UsageError):
            CaptureOptions(interval=value)
    with pytest.raises(UsageError, match="not valid UTF-8"):
        CaptureOptions(sample_id="slide-\udcff")
    assert QualityThresholds().replace(min_focus=0, max_clipped=1).min_focus == 0.0


def test_frames_are_saved_in_the_formats_the_options_allow():
    from edge_all.capture.frames import FORMATS
    from edge_all.capture.options import FRAME_FORMATS
    from edge_all.errors import UsageError

    assert set(FORMATS) == set(FRAME_FORMATS)
    with pytest.raises(UsageError, match="--frame-format must be png or jpeg, not 'tiff'"):
        CaptureOptions(frame_format="tiff")
