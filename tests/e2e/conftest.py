"""Whole-stack and deployment tests: real processes end to end, the demo, docker-compose, bootstrap, example configs, dashboards."""
