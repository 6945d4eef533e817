"""Programme pages and JSON API: handlers (`api.py`, `pages.py`, `emergency.py`), their HTTP helpers, OpenAPI
schemas and the view models the pages render."""
