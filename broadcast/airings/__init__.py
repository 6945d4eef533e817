"""Airings: one occurrence sent to the speakers. The dispatcher hands orders to receivers over MQTT and follows
their reports; the airing store records them; the outcome rules add receipts up. Also the airing history reports."""
