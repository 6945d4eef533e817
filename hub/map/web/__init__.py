"""The map's page, its base-map file and its API route."""
