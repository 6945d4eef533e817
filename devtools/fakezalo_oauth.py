"""Zalo's OAuth v4 refresh-token exchange as the fake Zalo (devtools/fakezalo.py) answers it: the app id and
secret key checked, each refresh token good once, a new refresh token and access token in every answer."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from typing import Any

from devtools.fakezalo_state import FakeState


def refresh_answer(
    st: FakeState, secret_key: str | None, form: Mapping[str, Any], issue: Callable[[], str]
) -> dict[str, Any]:
    """The answer to POST /v4/oa/access_token (errors are HTTP 200 with an `error` code, as Zalo's)."""
    if secret_key != st.secret_key or form.get("app_id") != st.app_id:
        return {
            "error": -14002,
            "error_name": "Invalid app",
            "error_description": "app_id or secret_key is wrong",
        }
    if form.get("grant_type") != "refresh_token":
        return {
            "error": -14003,
            "error_name": "Invalid grant_type",
            "error_description": "grant_type must be refresh_token",
        }
    rt = str(form.get("refresh_token", ""))
    if rt != st.refresh_token or rt in st.used_refresh_tokens:
        return {
            "error": -14014,
            "error_name": "Invalid refresh token",
            "error_description": "Refresh token is invalid or has been used",
        }
    st.used_refresh_tokens.add(rt)
    st.refresh_token = "rt-" + secrets.token_hex(6)
    st.refreshes += 1
    access = issue()
    # Zalo sends expires_in as a string.
    return {
        "access_token": access,
        "refresh_token": st.refresh_token,
        "expires_in": str(int(st.access_ttl_s)),
    }
