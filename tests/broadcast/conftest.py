"""Tests of the hub side of broadcasting (broadcast/): audio processing, content, programmes, scheduling, dispatch, reporting."""
