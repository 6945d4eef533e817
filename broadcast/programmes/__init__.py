"""Programmes: what the commune wants aired. Input validation, schedule rules, target speakers, conflicts with
other programmes, the stored programme and its approval steps; `save.py` runs a save through these stages."""
