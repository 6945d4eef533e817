"""Scheduling: turns approved programmes into airings at the right time (the scheduler, which runs on the hub
holding the `broadcast` leader lease of hub/core/leases.py, what it reads about programmes, and the misfire rules
for an occurrence that comes late)."""
