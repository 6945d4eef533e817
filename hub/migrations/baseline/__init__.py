"""The baseline revision's tables, by room (frozen: see versions/0001_baseline.py)."""
