"""Edge commands: snapshot now, probe now, relearn the reference view, sent from the web to a camera's box."""
