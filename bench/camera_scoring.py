"""Scoring of a labelled clip set for bench/camera_checks.py: confusion matrix, per-class precision and recall,
the nuisance false-alarm rate, and which classes miss the goal."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor


def score(
    faults: tuple[str, ...],
    nuisances: tuple[str, ...],
    clips_per: dict[str, int],
    run: Callable[[str, int], tuple[str, bool]],
    workers: int = 1,
) -> dict[str, object]:
    """Run every clip of a set and sum up: per-class precision/recall and the nuisance false-alarm rate.

    `workers` > 1 runs clips in threads (for clips rendered by FFmpeg processes); each clip has its own
    seed then, so the figures do not depend on the order.
    """
    confusion: Counter[tuple[str, str]] = Counter()
    nuisance_alarms: Counter[str] = Counter()
    jobs = [(label, i) for label in (*faults, *nuisances) for i in range(clips_per[label])]
    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(lambda job: run(*job), jobs))
    for (label, _), (predicted, alarmed) in zip(jobs, results, strict=True):
        truth = label if label in faults else "ok"
        confusion[(truth, predicted)] += 1
        if truth == "ok" and alarmed:
            nuisance_alarms[label] += 1
    classes = ("ok", *faults)
    others = sorted({p for _, p in confusion} - set(classes))
    per_class: dict[str, dict[str, float | None]] = {}
    for c in faults:
        tp = confusion[(c, c)]
        called = sum(n for (_, p), n in confusion.items() if p == c)
        actual = sum(n for (t, _), n in confusion.items() if t == c)
        per_class[c] = {
            "precision": round(tp / called, 3) if called else None,
            "recall": round(tp / actual, 3) if actual else None,
        }
    nuisance_clips = sum(clips_per[n] for n in nuisances)
    false_alarm = sum(nuisance_alarms.values()) / nuisance_clips
    columns = (*classes, *others)
    print("confusion (rows: truth, columns: predicted)")
    print("             " + "".join(f"{c[:11]:>12}" for c in columns))
    for t in classes:
        print(f"{t[:12]:>12} " + "".join(f"{confusion[(t, p)]:>12}" for p in columns))
    for c, pr in per_class.items():
        print(f"{c:>14}: precision {pr['precision']}  recall {pr['recall']}")
    print(f"nuisance false alarms: {dict(nuisance_alarms)} of {nuisance_clips}; rate {false_alarm:.3%}")
    missed = [c for c, pr in per_class.items() if (pr["precision"] or 0) < 0.95 or (pr["recall"] or 0) < 0.90]
    return {
        "clips": sum(confusion.values()),
        "nuisance_clips": nuisance_clips,
        "per_class": per_class,
        "nuisance_false_alarm_rate": round(false_alarm, 4),
        "nuisance_alarms": dict(nuisance_alarms),
        "classes_below_goal": missed,
        "goal_met": not missed and false_alarm <= 0.01,
    }
