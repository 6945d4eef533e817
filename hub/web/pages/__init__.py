"""Pages for people: the camera wall and camera page, reports, sign-in, the own account."""
