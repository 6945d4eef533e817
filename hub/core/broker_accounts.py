"""The interface between the hub's device registry and the broker's accounts.

The registry (hub/core/provisioning.py) decides who has an account and with which rules; a `BrokerAccounts`
backend installs that on the broker. The one here is Mosquitto's dynamic-security plugin (hub/core/dynsec.py);
EMQX's built-in database with its HTTP API would be a second one (docs/SECURITY.md). Calls block on the network:
call them from a thread (`asyncio.to_thread`), never from the event loop.
"""

from __future__ import annotations

from typing import Protocol

from hub.core.broker_acl import BrokerAccount


class BrokerAccountsError(RuntimeError):
    """The broker refused an account change or could not be reached; the message names the step."""


class BrokerAccounts(Protocol):
    def upsert(self, account: BrokerAccount, password: str) -> None:
        """Create the account, or replace its password, client id and rules; it can connect from now on."""

    def set_password(self, username: str, password: str) -> None:
        """A new password; the old one stops working and a connected client is disconnected at once."""

    def remove(self, username: str) -> None:
        """Delete the account (absent already is fine); a connected client is disconnected at once."""

    def usernames(self) -> list[str]:
        """Every account the broker knows."""
