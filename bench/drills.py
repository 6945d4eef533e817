"""Fault drills, full form: every scenario of devtools/drills with real durations where they matter (an uplink
cut of 45 s, InfluxDB down 45 s, ten hub kills …), about ten minutes in all (each scenario starts its own stack).

Prints the table, then one JSON line: per scenario lost, duplicated, time to recover (s) and pass/fail.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devtools.drills.__main__ import run_one
from devtools.drills.report import table
from devtools.drills.scenarios import ALL


def main() -> None:
    base = Path(tempfile.mkdtemp(prefix="bench-drills-"))
    try:
        outcomes = [run_one(s, short=False, base=base) for s in ALL]
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(table(outcomes), file=sys.stderr)
    print(
        json.dumps(
            {
                "bench": "drills",
                "passed": sum(o.passed for o in outcomes),
                "scenarios": {
                    o.scenario: {
                        "passed": o.passed,
                        "lost": o.lost,
                        "duplicated": o.duplicated,
                        "recover_s": None if o.recover_s is None else round(o.recover_s, 2),
                        "wall_s": round(o.wall_s, 1),
                        **({"notes": o.notes} if o.notes else {}),
                    }
                    for o in outcomes
                },
            }
        )
    )


if __name__ == "__main__":
    main()
