"""Symbolic links in what `classify` is given: a link to itself, a broken link, a link back up the
tree. Each bad one is one line, every good image is classified once, and the batch goes on."""

from __future__ import annotations

import json
import os

from edge_all.runtime.inputs import expand_inputs
from tests.cli_runner import run_edge_all as edge_all

from .conftest import save_png


def make_tree(root, smears):
    """slides/{a,b}.png, a link loop, a broken link, and a link from a subfolder back to slides/."""
    slides = root / "slides"
    save_png(slides / "a.png", smears[0])
    save_png(slides / "day2" / "b.png", smears[1])
    (slides / "loop.png").symlink_to("loop.png")
    (slides / "ping.png").symlink_to("pong.png")
    (slides / "pong.png").symlink_to("ping.png")
    (slides / "gone.png").symlink_to("removed.png")
    (slides / "day2" / "back").symlink_to("..")
    return slides


def test_a_folder_with_link_loops_is_classified_and_each_bad_link_reported(tmp_path, int8_bundle, smears):
    slides = make_tree(tmp_path, smears)
    result = edge_all("classify", slides, "--model", int8_bundle, "--json", timeout=120)
    assert result.returncode == 3, result.stderr  # some inputs failed, the rest were classified
    assert "Traceback" not in result.stderr
    errors = sorted(line for line in result.stderr.splitlines() if line.startswith("error:"))
    assert errors == [
        f"error: {slides / 'gone.png'}: broken symbolic link (to removed.png)",
        f"error: {slides / 'loop.png'}: symbolic link loop (the link leads back to itself)",
        f"error: {slides / 'ping.png'}: symbolic link loop (the link leads back to itself)",
        f"error: {slides / 'pong.png'}: symbolic link loop (the link leads back to itself)",
    ]
    classified = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted(r["file"] for r in classified if r["status"] != "error") == [
        str(slides / "a.png"),
        str(slides / "day2" / "b.png"),
    ]


def test_a_recursive_glob_does_not_go_round_a_link_back_up_the_tree(tmp_path, smears):
    slides = make_tree(tmp_path, smears)
    found = expand_inputs([f"{slides}/**/*.png", str(slides / "loop.png")])
    assert found.files == [slides / "a.png", slides / "day2" / "b.png"]
    problems = sorted(os.path.relpath(path, slides) for path, _ in found.problems)
    assert problems == ["gone.png", "loop.png", "ping.png", "pong.png"]
