"""Reading one frame takes bounded memory: the worst case of each format, classified by a real
`edge-all classify` process, peaks under MEMORY_BOUND (384 MiB, interpreter and model included).

A 64-Mpixel PNG used to be decoded whole and the process reached 675-690 MB resident: the
out-of-memory killer on a 1 GB Raspberry Pi. Now at most 4096x4096 pixels are decoded (a larger
JPEG at reduced size), decoding and compositing work in bands, and what cannot be decoded within the
bound is refused in one line. The cases and the measurement are benchmarks/image_memory.py's, whose
table is in docs/reliability.md.
"""

from __future__ import annotations

import pytest

from benchmarks.image_memory import MEMORY_BOUND, REPO, cases, measure

CASES = {case.name: case for case in cases()}
REFUSED = ("too large to decode", "progressive JPEG")


@pytest.mark.slow
@pytest.mark.parametrize("name", CASES)
def test_the_worst_case_of_each_format_is_read_within_the_bound_or_refused(tmp_path, name):
    (measured,) = measure(CASES[name], tmp_path, [REPO])
    assert measured.peak_bytes <= MEMORY_BOUND, f"{name}: {measured.peak_bytes >> 20} MiB"
    if measured.exit_code != 0:  # refused, in one line, for its size: never killed, never a traceback
        assert measured.exit_code == 3, measured.last_line
        assert measured.last_line.startswith("error: ") and any(why in measured.last_line for why in REFUSED)
