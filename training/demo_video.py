"""Make a video of smear images, one image per frame: a stand-in microscope camera for the demo.

    python -m training.demo_video --split RUN/split.json --part test demo/test.avi
    python -m training.demo_video demo/fields.avi IMAGE_OR_FOLDER...

Writes Motion-JPEG in AVI (every OpenCV build reads it) and, beside it, OUT.frames.csv with the
source file and class of each frame, so a capture run can be checked against the truth.
Needs OpenCV (`pip install 'edge-all[camera]'`). It lives in training/ because --split reads a
run's split.json; the device package never imports training code.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from edge_all.extras import MissingExtra, import_extra
from edge_all.runtime.images import ImageError, load_rgb, resize_rgb
from edge_all.runtime.inputs import expand_inputs
from training.dataset import read_split


def split_images(split_file: Path, part: str) -> list[tuple[Path, str]]:
    split = read_split(split_file)
    return [(split.path(record), record.label) for record in split.part(part)]


def listed_images(arguments: list[str]) -> list[tuple[Path, str]]:
    found = expand_inputs(arguments)
    for problem in found.problems:
        print(f"warning: {problem}", file=sys.stderr)
    return [(path, path.parent.name) for path in found.files]


def write_video(out: Path, images: list[tuple[Path, str]], size: int = 224, fps: float = 2.0) -> int:
    """Write the images as frames (centre-cropped to size x size); returns the frames written."""
    try:
        cv2 = import_extra("cv2", "camera", "making a video")
    except MissingExtra as exc:
        raise SystemExit(f"error: {exc}") from None
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"MJPG"), fps, (size, size))
    if not writer.isOpened():
        raise SystemExit(f"error: {out}: OpenCV cannot write an MJPG video here")
    written = 0
    with open(out.with_suffix(".frames.csv"), "w", newline="", encoding="utf-8") as handle:
        table = csv.writer(handle)
        table.writerow(["frame", "file", "label"])
        for path, label in images:
            try:
                rgb = resize_rgb(load_rgb(path), size, size)
            except ImageError as exc:
                print(f"warning: skipped {exc}", file=sys.stderr)
                continue
            writer.write(rgb[:, :, ::-1].copy())  # OpenCV writes BGR
            table.writerow([written, str(path), label])
            written += 1
    writer.release()
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path, help="video file to write (.avi)")
    parser.add_argument("images", nargs="*", help="image files or folders (when not using --split)")
    parser.add_argument("--split", type=Path, help="a run's split.json: take the images of --part")
    parser.add_argument("--part", default="test", choices=("train", "val", "test"))
    parser.add_argument("--size", type=int, default=224, help="frame width and height in pixels")
    parser.add_argument("--fps", type=float, default=2.0)
    args = parser.parse_args(argv)
    if bool(args.split) == bool(args.images):
        parser.error("give either --split or image paths")
    images = split_images(args.split, args.part) if args.split else listed_images(args.images)
    count = write_video(args.out, images, args.size, args.fps)
    if not count:
        raise SystemExit("error: no readable images, no video written")
    print(f"wrote {count} frames to {args.out} (truth in {args.out.with_suffix('.frames.csv')})")


if __name__ == "__main__":
    main()
