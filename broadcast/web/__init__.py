"""Web pages and JSON API of the broadcast feature: `programmes/` and `content/` (handlers, schemas, views),
`airings.py` (history and reports) and `speakers.py`. Each handler module exposes its `ROUTES` (ApiRoute list)
and, where it has pages, an `add_pages(app)` used by hub/web/app.py."""
