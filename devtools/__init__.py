"""Development and test tooling: real service launchers and the RTSP camera simulator."""
