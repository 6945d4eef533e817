"""Camera simulator fixtures (filled in with the simulator)."""
