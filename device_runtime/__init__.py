"""What runs on every piece of commune hardware: the MQTT link, the crash-safe outbox, logging, the shell."""
