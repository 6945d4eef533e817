"""Tests of the MQTT contract (contract/): topics, payloads, JSON Schema, config files, a vendor's view with mosquitto_pub."""
