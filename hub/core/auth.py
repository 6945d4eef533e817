"""Users, passwords (argon2), web sessions and API tokens.

Every function that depends on the clock takes `now` (naive UTC, as stored) so lockout and expiry are testable.
Secrets never leave this module in the clear except once, to the caller that created them: cookies and tokens
are stored only as sha256 digests, passwords only as argon2 hashes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from contract.topics import is_slug
from hub.core.area_tree import scope_of_node
from hub.core.db import ApiToken, User, WebSession, utcnow

# leader: a province or commune leader who reads walls, reports and summaries and changes nothing.
ROLES = ("admin", "police", "officer", "approver", "technician", "leader")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256
TOKEN_PREFIX = "ops_"
TOKEN_TOUCH_S = 60  # last_used is refreshed at most this often, so API reads do not turn into SQL writes

_USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
_hasher = PasswordHasher()
# Verified against when the user does not exist, so a wrong username costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AuthError(ValueError):
    """Bad input to an account operation; the message is meant for the person who gave it."""


@dataclass(frozen=True)
class Principal:
    """Who is making a request, detached from any SQL session."""

    user_id: int
    username: str
    full_name: str | None
    role: str
    district: str | None
    commune: str | None
    via: str  # "session" or "token"
    token_id: int | None = None
    # The (district, commune) pairs under the area-tree node the user is scoped to (hub/core/area_tree.py);
    # None: no node, the district/commune fields alone say the scope.
    areas: frozenset[tuple[str, str]] | None = None

    @property
    def display_name(self) -> str:
        return self.full_name or self.username


def _principal(s: Session, u: User, via: str, token_id: int | None = None) -> Principal:
    areas = scope_of_node(s, u.area_id) if u.area_id is not None else None
    return Principal(u.id, u.username, u.full_name, u.role, u.district, u.commune, via, token_id, areas)


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


# --- passwords -------------------------------------------------------------------------------------------


def check_password_rules(password: str, username: str | None = None) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError(f"Mật khẩu phải có ít nhất {MIN_PASSWORD_LENGTH} ký tự")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AuthError(f"Mật khẩu dài quá {MAX_PASSWORD_LENGTH} ký tự")
    if username and password.strip().lower() == username.lower():
        raise AuthError("Mật khẩu không được trùng tên đăng nhập")


def hash_password(password: str) -> str:
    """CPU- and memory-heavy (argon2): call from a worker thread in the server."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant-ish time whether or not the user exists (pass None for an unknown user)."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


# --- users -----------------------------------------------------------------------------------------------


def validate_user_fields(username: str, role: str, district: str | None, commune: str | None) -> None:
    if not _USERNAME_RE.fullmatch(username):
        raise AuthError(
            f"Tên đăng nhập {username!r} không hợp lệ: 2–64 ký tự thường a-z, 0-9, '.', '_' hoặc '-'"
        )
    if role not in ROLES:
        raise AuthError(f"Vai trò {role!r} không hợp lệ (cho phép: {', '.join(ROLES)})")
    if district is not None and not is_slug(district):
        raise AuthError(f"Mã huyện {district!r} không hợp lệ (chữ thường, số, '_' hoặc '-')")
    if commune is not None:
        if district is None:
            raise AuthError("Phạm vi xã cần kèm mã huyện (--district)")
        if not is_slug(commune):
            raise AuthError(f"Mã xã {commune!r} không hợp lệ (chữ thường, số, '_' hoặc '-')")


def check_province_wide(role: str, district: str | None, province_wide: bool) -> None:
    """A user with no district sees the whole province: that must be chosen, never the result of a field left
    empty. Administrators are always province-wide."""
    if district is not None and province_wide:
        raise AuthError("Chọn một huyện hoặc toàn tỉnh, không phải cả hai")
    if district is None and not province_wide and role != "admin":
        raise AuthError(
            "Chưa chọn phạm vi: cho một huyện (--district) hoặc, nếu đúng là toàn tỉnh, ghi rõ --province-wide"
        )


def get_user(s: Session, username: str) -> User | None:
    return s.scalar(select(User).where(User.username == username))


def add_user(
    s: Session,
    username: str,
    password_hash: str,
    role: str,
    *,
    district: str | None = None,
    commune: str | None = None,
    full_name: str | None = None,
    now: datetime,
) -> User:
    validate_user_fields(username, role, district, commune)
    if get_user(s, username) is not None:
        raise AuthError(f"Người dùng {username!r} đã tồn tại")
    user = User(
        username=username,
        password_hash=password_hash,
        role=role,
        district=district,
        commune=commune,
        full_name=full_name,
        created_at=now,
        failed_logins=0,
        disabled=False,
    )
    s.add(user)
    s.flush()
    return user


def set_password(s: Session, username: str, password_hash: str, now: datetime | None = None) -> None:
    user = get_user(s, username)
    if user is None:
        raise AuthError(f"Không có người dùng {username!r}")
    user.password_hash = password_hash
    user.failed_logins = 0
    user.locked_until = None
    # A new password ends every open session and API token of that user: whoever knew the old one may hold them.
    s.execute(delete(WebSession).where(WebSession.user_id == user.id))
    revoke_user_tokens(s, user.id, now or utcnow())


def revoke_user_tokens(s: Session, user_id: int, now: datetime) -> int:
    """Revokes every live API token of a user (password changed or reset, account disabled)."""
    n = s.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    ).rowcount  # type: ignore[attr-defined]
    return int(n or 0)


def credential_alive(s: Session, p: Principal, cookie: str | None, now: datetime) -> bool:
    """Whether what a long request (a live-event stream) was let in with still holds: its session (or token)
    not ended or revoked, its user not disabled. Re-checked while the stream runs."""
    if p.via == "token":
        tok = s.get(ApiToken, p.token_id) if p.token_id is not None else None
        ok = tok is not None and tok.revoked_at is None
    else:
        sess = s.get(WebSession, sha256_hex(cookie)) if cookie else None
        ok = sess is not None and sess.expires_at > now
    user = s.get(User, p.user_id)
    return ok and user is not None and not user.disabled


# --- login attempts and lockout ------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginCandidate:
    """What the login handler needs before it spends time on argon2 (read in the SQL thread)."""

    user_id: int | None
    password_hash: str | None
    locked_until: datetime | None
    role: str | None = None  # where the login sends the user when no page was asked for


def login_candidate(s: Session, username: str, now: datetime) -> LoginCandidate:
    user = get_user(s, username)
    if user is None or user.disabled:
        return LoginCandidate(None, None, None)
    locked = user.locked_until if user.locked_until and user.locked_until > now else None
    return LoginCandidate(user.id, user.password_hash, locked, user.role)


def next_failure_state(
    failed_logins: int, locked_until: datetime | None, now: datetime
) -> tuple[int, datetime | None]:
    """Failure count after one more failed login. Failures never lock an account (a stranger could lock out
    anyone by name): the web's slowdown per account and address (hub/web/ratelimit.py) answers them. A lock
    left by an older hub lifts here."""
    return failed_logins + 1, None


def record_login_failure(s: Session, user_id: int, now: datetime) -> None:
    """Counts the failure on the account (shown to administrators; reset by a success or an unlock)."""
    user = s.get(User, user_id)
    if user is not None:
        user.failed_logins, user.locked_until = next_failure_state(user.failed_logins, user.locked_until, now)


def record_login_success(s: Session, user_id: int, new_hash: str | None = None) -> None:
    values: dict[str, object] = {"failed_logins": 0, "locked_until": None}
    if new_hash:
        values["password_hash"] = new_hash
    s.execute(update(User).where(User.id == user_id).values(**values))


# --- web sessions ----------------------------------------------------------------------------------------


def create_session(s: Session, user_id: int, now: datetime, hours: float) -> tuple[str, str]:
    """Returns (cookie value, CSRF token). Expired sessions are swept here, so the table stays small."""
    s.execute(delete(WebSession).where(WebSession.expires_at <= now))
    cookie = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    s.add(
        WebSession(
            id_hash=sha256_hex(cookie),
            user_id=user_id,
            csrf=csrf,
            created_at=now,
            expires_at=now + timedelta(hours=hours),
        )
    )
    return cookie, csrf


def load_session(s: Session, cookie: str, now: datetime) -> tuple[Principal, str] | None:
    """(principal, CSRF token) for a live session cookie of an enabled user, else None."""
    row = s.execute(
        select(WebSession, User)
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.id_hash == sha256_hex(cookie))
    ).first()
    if row is None:
        return None
    sess, user = row
    if sess.expires_at <= now or user.disabled:
        return None
    return _principal(s, user, "session"), sess.csrf


def delete_session(s: Session, cookie: str) -> None:
    s.execute(delete(WebSession).where(WebSession.id_hash == sha256_hex(cookie)))


def csrf_matches(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


# --- API tokens ------------------------------------------------------------------------------------------


def create_token(s: Session, username: str, name: str, now: datetime) -> tuple[ApiToken, str]:
    """Returns the row and the token itself; the token is not stored and cannot be shown again."""
    name = name.strip()
    if not name or len(name) > 100:
        raise AuthError("Tên token phải có từ 1 đến 100 ký tự")
    user = get_user(s, username)
    if user is None:
        raise AuthError(f"Không có người dùng {username!r}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        user_id=user.id, name=name, token_hash=sha256_hex(token), prefix=token[:12], created_at=now
    )
    s.add(row)
    s.flush()
    return row, token


def load_token(s: Session, token: str, now: datetime) -> Principal | None:
    found = read_token(s, token, now)
    if found is None:
        return None
    p, stale = found
    if stale and p.token_id is not None:
        touch_token(s, p.token_id, now)
    return p


def read_token(s: Session, token: str, now: datetime) -> tuple[Principal, bool] | None:
    """The token's principal, and whether its `last_used` is older than TOKEN_TOUCH_S; writes nothing."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = s.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == sha256_hex(token))
    ).first()
    if row is None:
        return None
    tok, user = row
    if tok.revoked_at is not None or user.disabled:
        return None
    stale = tok.last_used is None or (now - tok.last_used).total_seconds() >= TOKEN_TOUCH_S
    return _principal(s, user, "token", tok.id), stale


def touch_token(s: Session, token_id: int, now: datetime) -> None:
    s.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used=now))


def list_tokens(s: Session) -> list[tuple[ApiToken, str]]:
    rows = s.execute(
        select(ApiToken, User.username).join(User, User.id == ApiToken.user_id).order_by(ApiToken.id)
    )
    return [(t, u) for t, u in rows]


def revoke_token(s: Session, token_id: int, now: datetime) -> bool:
    """False when no such token; revoking twice keeps the first revocation time."""
    tok = s.get(ApiToken, token_id)
    if tok is None:
        return False
    if tok.revoked_at is None:
        tok.revoked_at = now
    return True
