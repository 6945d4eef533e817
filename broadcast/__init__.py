"""Broadcast domain (smart radio 4.0): audio processing, programmes, dispatch, receiver agent. Filled by its own issue."""
