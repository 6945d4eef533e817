"""Fault drills: the real stack through a bad day, scenario by scenario, with the books balanced at the end.

`python -m devtools.drills [--short] [--only NAME]`; the full form with figures is bench/drills.py.
"""
