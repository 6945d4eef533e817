"""Scheduling: turns approved programmes into airings at the right time (the scheduler, its leader lease across
workers, what it reads about programmes, and the misfire rules for an occurrence that comes late)."""
