"""python -m devtools.drills [--short] [--only NAME ...] [--keep]: run the drills, print the table and one JSON line."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

from devtools.drills.report import Outcome, summary, table
from devtools.drills.scenarios import ALL, BY_NAME, Scenario


def run_one(scenario: Scenario, short: bool, base: Path) -> Outcome:
    workdir = base / scenario.name
    t0 = time.monotonic()
    try:
        outcome = scenario.run(workdir, short)
    except Exception as exc:  # a drill that cannot finish is a failed drill, with the reason
        traceback.print_exc()
        outcome = Outcome(scenario.name, scenario.expected, f"error: {exc}"[:300], False)
    outcome.wall_s = time.monotonic() - t0
    return outcome


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m devtools.drills", description=__doc__)
    p.add_argument("--short", action="store_true", help="compressed faults (each scenario under ~30 s)")
    p.add_argument("--only", action="append", choices=sorted(BY_NAME), help="run only this scenario")
    p.add_argument("--keep", action="store_true", help="keep the work folders (logs) after the run")
    args = p.parse_args(argv)
    chosen = [BY_NAME[n] for n in args.only] if args.only else ALL
    base = Path(tempfile.mkdtemp(prefix="drills-"))
    outcomes = []
    try:
        for scenario in chosen:
            outcome = run_one(scenario, args.short, base)
            print(
                f"{outcome.scenario}: {'PASS' if outcome.passed else 'FAIL'} {outcome.observed}", flush=True
            )
            outcomes.append(outcome)
    finally:
        if args.keep:
            print(f"work folders kept in {base}", file=sys.stderr)
        else:
            shutil.rmtree(base, ignore_errors=True)
    print(table(outcomes))
    print(summary(outcomes, "short" if args.short else "full"), flush=True)
    return 0 if all(o.passed for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
