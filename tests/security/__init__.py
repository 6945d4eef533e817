"""Attack stories against the real broker, hub, devices and web app: each shows the attack does no harm and is
counted (docs/SECURITY.md, "Device trust: threats and what stops them")."""
