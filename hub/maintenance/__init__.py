"""Looking after the hub's storage from the command line: schema migrations (`db`), backup and restore."""
