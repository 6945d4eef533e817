"""Content library pages and JSON API: list/upload/TTS handlers (`api.py`), the shared create path and pages."""
