"""Each user's home: the page they land on after login, behind the brand link and the error pages' way back.

Chosen by permission, not by role name, so a role whose permissions change lands where it may go:

- `cameras.view` with nothing that changes anything (leaders: every permission a `.view` one) → the wall's
  summary per commune, problems first (`/?view=summary`), whatever the size of their scope.
- `cameras.view` → the camera wall `/` (police, technicians, admin). Technicians start on the wall rather than
  the admin devices page because that page needs `devices.manage`, which technicians do not hold: the wall is
  their view of cameras and edge boxes; speakers, alerts and the outbox are in their menu.
- `broadcasts.view` → the programmes list (commune culture officers and approvers).
- then speakers, alerts, administration; and the own account page, which every signed-in user may open, so a
  home never answers 403.
"""

from __future__ import annotations

from hub.core.access import ROLE_PERMS, WRITE_PERMS, Perm
from hub.core.auth import Principal

WALL = "/"
SUMMARY = "/?view=summary"
ACCOUNT = "/account"
LOGIN = "/login"
HOMES: tuple[tuple[Perm, str], ...] = (
    (Perm.VIEW_CAMERAS, WALL),
    (Perm.VIEW_BROADCASTS, "/broadcasts/programmes"),
    (Perm.VIEW_SPEAKERS, "/speakers"),
    (Perm.VIEW_ALERTS, "/alerts"),
    (Perm.MANAGE_USERS, "/admin"),
)


def home_for_role(role: str) -> str:
    perms = ROLE_PERMS.get(role, frozenset())
    if Perm.VIEW_CAMERAS in perms and not perms & WRITE_PERMS:
        return SUMMARY
    return next((path for perm, path in HOMES if perm in perms), ACCOUNT)


def home_for(p: Principal | None) -> str:
    """The path of `p`'s home page; the login page for nobody."""
    return LOGIN if p is None else home_for_role(p.role)
