"""Tests of the edge agent (edge_agent/): camera probing and judging, config, workers, scheduler, preflight, the agent."""
