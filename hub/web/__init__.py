"""The hub's web app: pages, JSON API (/api/v1), authentication middleware, live event stream."""
