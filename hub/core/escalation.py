"""What escalation needs to know of alerts, typed in the core so the notifier (which escalates) and the alert
engine (which knows acknowledgements) never import each other: the alerts feature provides `ALERT_ACKS`."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy.orm import Session

from hub.core.features import ServiceKey

# (session, kind, district, commune, devices) → the devices whose alert still fires with nobody having
# acknowledged its current episode. Runs in the SQL thread.
OpenUnacknowledged = Callable[[Session, str, str, str, Sequence[str]], list[str]]


class AlertAcks:
    def __init__(self, open_unacknowledged: OpenUnacknowledged) -> None:
        self.open_unacknowledged = open_unacknowledged


ALERT_ACKS = ServiceKey("alert-acks", AlertAcks)
