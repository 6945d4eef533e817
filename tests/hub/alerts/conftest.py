"""Tests of the alert engine (hub/alerts/): rules, the service, its API, live alerts on a running hub."""
