"""The JSON API under /api/v1 (cameras, agents, live events, history, reports); each module lists its ROUTES."""
