"""A JPEG too large to decode whole is read at 1/2..1/8 of its size: the scale given for the file's
pixels (--um-per-px, a site's) must follow, or every cell would be measured at half its size.

Before, `classify --um-per-px 0.25` recorded 0.25 µm/px for pixels that each spanned two of the
file's (0.5 µm): the quality gate and the finder read the field at the wrong scale.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
from PIL import Image

from edge_all.capture.folder_source import FolderSource
from edge_all.capture.sources import FrameRequest
from edge_all.cells.scale import REFERENCE_UM_PER_PX
from edge_all.runtime.images import read_image
from edge_all.triage.commissioning import file_scale, measure_field
from tests.cells.smears import draw_field


def big_jpeg(path, width: int = 8000, height: int = 6000) -> None:
    """48 Mpixels of smear-coloured noise: decoded at half size (12 Mpixels)."""
    tile = np.random.default_rng(3).integers(120, 250, size=(128, 128, 3), dtype=np.uint8)
    pixels = np.tile(tile, (-(-height // 128), -(-width // 128), 1))[:height, :width]
    Image.fromarray(pixels).save(path, quality=85)


def test_classify_doubles_a_given_scale_for_a_jpeg_decoded_at_half_size(tmp_path):
    path = tmp_path / "big.jpg"
    big_jpeg(path)
    done = subprocess.run(
        [sys.executable, "-m", "edge_all", "classify", "--json", "--um-per-px", "0.25", str(path)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("{")]
    result = json.loads(line)
    assert result["scale"] == {"um_per_px": 0.5, "source": "given"}, result


def test_a_folder_frame_decoded_at_half_size_keeps_the_files_native_width(tmp_path):
    """The capture loop's scale for the camera is of the file's pixels: `native_width` says how many."""
    big_jpeg(tmp_path / "field.jpg")
    source = FolderSource(f"folder:{tmp_path}", tmp_path, settle_seconds=0.0)
    source.configure(FrameRequest(min_size=(224, 224)))
    source.open()
    frame = None
    for _ in range(3):  # the first look only notes the file; it is read once settled
        frame = source.read()
        if frame is not None:
            break
    source.close()
    assert frame is not None and frame.error is None and frame.rgb is not None
    assert frame.native_width == 8000  # the file's width, though 4000 columns were decoded


def smear_jpeg(path, side: int) -> np.ndarray:
    """A smear at 0.075 um/px (red cells 100 px across), tiled to SIDE x SIDE; its tile, to compare."""
    tile = draw_field(0.075, size=(1050, 1050), seed=1)
    Image.fromarray(np.tile(tile, (-(-side // 1050), -(-side // 1050), 1))[:side, :side]).save(
        path, quality=90
    )
    return tile


def test_commissioning_reads_a_jpeg_decoded_at_half_size_at_the_files_scale(tmp_path):
    """Commissioning read fields with load_rgb: a 4200x4200 JPEG (decoded at 2100x2100) gave the site a
    scale of 0.16 um/px for a file at 0.08, and measured its fields at half the site's scale."""
    small, big = tmp_path / "small.jpg", tmp_path / "big.jpg"
    smear_jpeg(small, 1050)
    smear_jpeg(big, 4200)
    assert read_image(big).reduction == 2
    truth = file_scale(small).um_per_px
    assert truth is not None and abs(truth - 0.075) < 0.01
    assert abs(file_scale(big).um_per_px - truth) < 0.05 * truth  # was twice it
    whole, whole_at = measure_field(small, truth)
    reduced, reduced_at = measure_field(big, truth)
    assert abs(whole_at - REFERENCE_UM_PER_PX) < 0.01 and abs(reduced_at - REFERENCE_UM_PER_PX) < 0.01
    # The same smear at the reference scale: the same glass, brightness, stain and (within 25%) focus.
    assert abs(reduced.brightness - whole.brightness) < 3 and abs(reduced.glass - whole.glass) < 3
    assert abs(reduced.stained - whole.stained) < 0.02, (reduced.stained, whole.stained)
    assert abs(reduced.focus - whole.focus) < 0.25 * whole.focus, (reduced.focus, whole.focus)
