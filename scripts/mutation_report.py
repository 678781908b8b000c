"""Per-module mutation scores from mutmut's results (mutants/*.meta), as docs/testing.md reports them.

`mutmut results` lists mutants one by one; this adds them up per module:
score = killed / (killed + survived + no tests), timeouts counted as killed (as mutmut counts them).
Usage: python scripts/mutation_report.py [--survivors]
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from mutmut.stats import status_by_exit_code

MUTANTS = Path("mutants")


def main(show_survivors: bool) -> int:
    metas = sorted(MUTANTS.rglob("*.py.meta"))
    if not metas:
        print("no results under mutants/: run `make mutation` first", file=sys.stderr)
        return 1
    print("| module | mutants | killed | timeout | survived | no tests | not run | score |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    survivors: list[str] = []
    for meta in metas:
        module = meta.relative_to(MUTANTS).as_posix().removesuffix(".meta")
        results = json.loads(meta.read_text())["exit_code_by_key"]
        counts = Counter(status_by_exit_code[code] for code in results.values())
        killed, timeout = counts["killed"], counts["timeout"]
        survived, untested, unrun = counts["survived"], counts["no tests"], counts["not checked"]
        tried = killed + timeout + survived + untested
        score = f"{100 * (killed + timeout) / tried:.1f}%" if tried else "-"
        row = [module, len(results), killed, timeout, survived, untested, unrun, score]
        print("| " + " | ".join(map(str, row)) + " |")
        survivors += [
            name for name, code in results.items() if status_by_exit_code[code] in ("survived", "no tests")
        ]
    if show_survivors:
        print()
        print("\n".join(sorted(survivors)))
    return 0


if __name__ == "__main__":
    sys.exit(main("--survivors" in sys.argv[1:]))
