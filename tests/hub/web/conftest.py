"""Tests of the hub's web app (hub/web/): pages, JSON API, live events, accounts, administration, access control."""
