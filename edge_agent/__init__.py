"""Edge agent: probes cameras, judges their health, publishes over MQTT."""
