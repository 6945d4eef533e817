"""Broadcast domain (smart radio 4.0), hub side: `programmes/` (what to air), `scheduling/` (when),
`airings/` (dispatch to receivers and outcomes), `content/` (audio library), `speakers/` (receiver registry),
`web/`; `service.py` wires them into the hub. `receiver/` is the loudspeaker agent."""
