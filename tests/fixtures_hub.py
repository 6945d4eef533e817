"""Hub fixtures (filled in with the hub runtime)."""
