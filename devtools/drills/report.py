"""One table row per scenario (scenario, expected, observed, pass/fail), then one JSON line with the figures."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Outcome:
    scenario: str
    expected: str
    observed: str
    passed: bool
    lost: int = 0
    duplicated: int = 0
    recover_s: float | None = None  # from the fault's end until the books balanced again
    wall_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["recover_s"] = None if self.recover_s is None else round(self.recover_s, 2)
        d["wall_s"] = round(self.wall_s, 1)
        return d


def table(outcomes: list[Outcome]) -> str:
    rows = [("scenario", "expected", "observed", "result")]
    rows += [(o.scenario, o.expected, o.observed, "PASS" if o.passed else "FAIL") for o in outcomes]
    lines = ["| " + " | ".join(r) + " |" for r in rows]
    lines.insert(1, "|---|---|---|---|")
    return "\n".join(lines)


def summary(outcomes: list[Outcome], mode: str) -> str:
    return json.dumps(
        {
            "drills": mode,
            "passed": sum(o.passed for o in outcomes),
            "failed": sum(not o.passed for o in outcomes),
            "scenarios": [o.as_json() for o in outcomes],
        },
        ensure_ascii=False,
    )
