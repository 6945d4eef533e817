"""Tests of the hub (hub/): its command line, `python -m hub run` as a process, edge commands; the core, web, alerts and notifier in the subfolders."""
