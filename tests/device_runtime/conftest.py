"""Tests of device_runtime: the MQTT link, the outbox and disk queue, the publisher, the restart budget, redaction."""
