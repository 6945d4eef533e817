"""Alerts: rules over what the hub knows, evaluated as pure functions of facts and `now`, grouped, inhibited,
silenced and handed to hub/notify for delivery. The shared shapes live in hub/core/facts.py."""
