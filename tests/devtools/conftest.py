"""Tests of the development tools (devtools/): the RTSP camera simulator and the fake Zalo server."""
