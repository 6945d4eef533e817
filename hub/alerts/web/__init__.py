"""The alerts' web side: JSON API (alerts, silences, rule settings) and pages."""
