"""Web pages and JSON API of the broadcast feature (content library here; programmes, speakers and reports
in their own modules). Each module exposes its `ROUTES` (ApiRoute list) and an `add_pages(app)` used by
hub/web/app.py."""
