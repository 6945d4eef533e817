"""Speakers: the live registry of loudspeaker receivers (status, health, staleness and their alert facts)."""
