"""Draw the rooms of edge_all as they stand: docs/img/architecture.svg, from the code's own imports.

    .venv/bin/python scripts/architecture_picture.py > docs/img/architecture.svg

The rooms and their order are the layers contract in pyproject.toml (id "rooms"); each room's job is
the first words of its package docstring (up to the first ':'); its modules, and the rooms it
imports from, are read with grimp (what import-linter reads, imports inside functions included).
Nothing that changes with every edit (line counts, numbers of imports) is drawn, so the picture
changes only with the rooms: tests/test_architecture.py checks it is this script's output.
"""

from __future__ import annotations

import ast
import sys
from html import escape
from pathlib import Path

import grimp

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest's tomli, the same parser
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "edge_all"
LEAVES = "the shared leaves"
WIDTH = 1000
MARGIN = 30
CHAR = 7.2  # px per character of 12 px monospace
CHIP_H = 22
GAP = 34  # between rooms, where the arrow goes


def rooms_of_the_contract() -> list[list[str]]:
    """The layers of the rooms contract, top first, each a list of its modules' tails."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    (contract,) = [c for c in config["tool"]["importlinter"]["contracts"] if c.get("id") == "rooms"]
    return [[part.strip() for part in layer.replace("|", ":").split(":")] for layer in contract["layers"]]


def job(path: Path) -> str:
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    return doc.split(":")[0].replace("\n", " ").strip()


def describe_rooms(layers: list[list[str]]) -> list[dict]:
    rooms = []
    for layer in layers:
        if all((REPO / PACKAGE / tail).is_dir() for tail in layer):
            # Rooms side by side in one layer (`a | b`) are drawn one under the other, each saying so.
            for tail in layer:
                folder = REPO / PACKAGE / tail
                files = sorted(folder.rglob("*.py"))
                modules = [
                    str(p.relative_to(folder).with_suffix("")).replace("/__init__", "/") for p in files
                ]
                beside = [f"{other}/" for other in layer if other != tail]
                rooms.append(
                    {
                        "name": f"{tail}/",
                        "tails": [tail],
                        "job": job(folder / "__init__.py")
                        + (f" (beside {', '.join(beside)})" if beside else ""),
                        "modules": [m for m in modules if m != "__init__" and "migrations" not in m],
                    }
                )
        else:
            rooms.append(
                {
                    "name": LEAVES,
                    "tails": layer,
                    "job": "what every room may use",
                    "modules": layer,
                }
            )
    return rooms


def room_of(module: str, rooms: list[dict]) -> int | None:
    parts = module.split(".")
    if len(parts) < 2 or parts[0] != PACKAGE:
        return None
    return next((i for i, room in enumerate(rooms) if parts[1] in room["tails"]), None)


def imports_between(rooms: list[dict]) -> dict[tuple[int, int], int]:
    sys.path.insert(0, str(REPO))
    graph = grimp.build_graph(PACKAGE, include_external_packages=False)
    counts: dict[tuple[int, int], int] = {}
    for importer in sorted(graph.modules):
        source = room_of(importer, rooms)
        for imported in graph.find_modules_directly_imported_by(importer):
            target = room_of(imported, rooms)
            if source is not None and target is not None and source != target:
                counts[(source, target)] = counts.get((source, target), 0) + 1
    return counts


def chip_rows(modules: list[str], width: float) -> list[list[tuple[str, float]]]:
    rows: list[list[tuple[str, float]]] = [[]]
    used = 0.0
    for name in modules:
        chip = len(name) * CHAR + 16
        if rows[-1] and used + chip > width:
            rows.append([])
            used = 0.0
        rows[-1].append((name, chip))
        used += chip + 6
    return rows


def draw(rooms: list[dict], counts: dict[tuple[int, int], int]) -> str:
    inner = WIDTH - 2 * MARGIN - 24
    parts, y = [], 64
    for index, room in enumerate(rooms):
        rows = chip_rows(room["modules"], inner)
        below = [rooms[target]["name"].rstrip("/") for (source, target) in sorted(counts) if source == index]
        height = 44 + len(rows) * (CHIP_H + 6) + (22 if below else 4)
        x = MARGIN
        parts.append(
            f'<rect x="{x}" y="{y}" width="{WIDTH - 2 * MARGIN}" height="{height}" rx="8" '
            'fill="#e8eef6" stroke="#6b7f99"/>'
        )
        parts.append(
            f'<text x="{x + 12}" y="{y + 22}" class="name">{escape(room["name"])}</text>'
            f'<text x="{x + 12 + (len(room["name"]) + 1) * 9.6}" y="{y + 22}" class="job">'
            f"{escape(room['job'])}</text>"
        )
        cy = y + 34
        for row in rows:
            cx = x + 12
            for name, chip in row:
                parts.append(
                    f'<rect x="{cx:.1f}" y="{cy}" width="{chip:.1f}" height="{CHIP_H}" rx="4" '
                    'fill="#c9d7ea" stroke="#9fb2cc"/>'
                    f'<text x="{cx + 8:.1f}" y="{cy + 15}" class="module">{escape(name)}</text>'
                )
                cx += chip + 6
            cy += CHIP_H + 6
        if below:
            parts.append(
                f'<text x="{x + 12}" y="{cy + 12}" class="imports">imports from: '
                f"{escape(', '.join(below))}</text>"
            )
        y += height
        if index < len(rooms) - 1:
            mid = WIDTH / 2
            parts.append(
                f'<line x1="{mid}" y1="{y + 4}" x2="{mid}" y2="{y + GAP - 8}" stroke="#41536b" '
                'stroke-width="2" marker-end="url(#arrow)"/>'
            )
            y += GAP
    back = sorted((s, t) for (s, t) in counts if s > t)
    footer = "no room imports a room above it" if not back else f"imports up the layers: {back}"
    title = (
        f'<text x="{MARGIN}" y="30" class="title">edge_all: rooms, top to bottom; a room imports only '
        "rooms below it</text>"
        f'<text x="{MARGIN}" y="50" class="job">pyproject.toml\'s layers contract, measured from the code: '
        f"{footer}</text>"
    )
    style = (
        "<style>text{font-family:DejaVu Sans Mono,Menlo,Consolas,monospace;fill:#1d2733}"
        ".title{font-size:16px;font-weight:bold}.name{font-size:16px;font-weight:bold}"
        ".job{font-size:12px;fill:#44546a}.module{font-size:12px}.imports{font-size:11px;fill:#44546a}</style>"
    )
    marker = (
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="8" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#41536b"/></marker></defs>'
    )
    height = y + MARGIN
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}">\n{style}\n{marker}\n'
        f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>\n{title}\n'
        + "\n".join(parts)
        + "\n</svg>\n"
    )


def main() -> int:
    rooms = describe_rooms(rooms_of_the_contract())
    sys.stdout.write(draw(rooms, imports_between(rooms)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
