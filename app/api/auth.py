"""Request authentication: API key signatures (legacy and v3), sessions and passwords."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from sqlalchemy import bindparam, event
from sqlmodel import Session, col, select
from virga.errors import AuthError
from virga.models import Account, Domain, LoginSession, User, utcnow

BAD_CREDENTIALS = "unable to verify user credentials and/or request signature"
_CURRENT_SESSION: ContextVar[str | None] = ContextVar("virga_session", default=None)


def hash_password(password: str, salt: str | None = None) -> str:
    """PBKDF2-SHA256 hash in the form pbkdf2$iterations$salt$hash."""
    salt = salt or secrets.token_hex(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), 100_000)
    return f"pbkdf2$100000${salt}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    """Whether a password matches a stored hash."""
    try:
        _, iterations, salt, digest = stored.split("$")
    except ValueError:
        return False
    got = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), int(iterations))
    return hmac.compare_digest(got.hex(), digest)


def new_keys() -> tuple[str, str]:
    """A fresh API key and secret key."""
    return secrets.token_urlsafe(64), secrets.token_urlsafe(64)


def _encode(value: str, safe: str) -> str:
    """URL-encode a value the way CloudStack clients do before signing."""
    return quote(value, safe=safe).replace("+", "%20")


def _canonical(params: dict[str, str], case_sensitive: bool, safe: str) -> str:
    """The string to sign: sorted name=value pairs joined by &, lowercased."""
    keys = sorted(params, key=(lambda k: k) if case_sensitive else str.lower)
    return "&".join(f"{k}={_encode(params[k], safe)}" for k in keys).lower()


def sign(params: dict[str, str], secret: str) -> str:
    """Sign a request's parameters with a secret key (what clients do)."""
    query = _canonical(params, case_sensitive=False, safe="*")
    mac = hmac.new(secret.encode(), query.encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode()


def signature_matches(params: dict[str, str], secret: str, signature: str) -> bool:
    """Check a signature, accepting both name orderings and both ~ encodings clients use."""
    for case_sensitive in (False, True):
        for safe in ("*", "*~", "~", ""):
            query = _canonical(params, case_sensitive, safe)
            mac = base64.b64encode(hmac.new(secret.encode(), query.encode(), hashlib.sha1).digest()).decode()
            if hmac.compare_digest(mac, signature):
                return True
    return False


def _parse_expires(text: str) -> datetime:
    """Parse yyyy-MM-dd'T'HH:mm:ssZ (Z as +0000 or a literal Z)."""
    for fmt in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%f%z"):
        try:
            parsed = datetime.strptime(text, fmt)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        except ValueError:
            continue
    raise AuthError(BAD_CREDENTIALS)


Principal = tuple[User, Account, Domain]
# Built once: every request runs it (see virga.db.by_column for why that matters).
PRINCIPAL = (
    select(User, Account, Domain)
    .join(Account, col(Account.id) == User.account_id)
    .join(Domain, col(Domain.id) == Account.domain_id)
    .where(User.removed == None)
)
BY_APIKEY = PRINCIPAL.where(User.apikey == bindparam("v"))
BY_USER_ID = PRINCIPAL.where(User.id == bindparam("v"))
BY_USERNAME = PRINCIPAL.where(User.username == bindparam("v"))


def _principal(db: Session, stmt: Any, value: Any) -> Principal:
    """The enabled user a prebuilt principal query finds, with its account and domain, or raise 401."""
    row = lookup(db, stmt, value)
    if row is None:
        raise AuthError(BAD_CREDENTIALS)
    user, account, domain = row
    if user.state != "enabled" or account.state != "enabled" or account.removed:
        raise AuthError(BAD_CREDENTIALS)
    return user, account, domain


# Every request reads its user, account and domain: a short-lived cache of them saves a three-table ORM
# load per call. Any flush that writes a user, account or domain in this process empties it at once;
# a change made by another management server sharing the database is seen within PRINCIPAL_TTL seconds.
PRINCIPAL_TTL = 1.0
_PRINCIPALS: dict[tuple[int, Any], tuple[float, Principal]] = {}


def lookup(db: Session, stmt: Any, value: Any) -> Principal | None:
    """Run a principal query (cached for PRINCIPAL_TTL); the rows come back attached to `db`."""
    key, now = (id(stmt), value), time.monotonic()
    hit = _PRINCIPALS.get(key)
    if hit is not None and now - hit[0] < PRINCIPAL_TTL:
        return _attached(db, hit[1])
    row = db.exec(stmt, params={"v": value}).first()
    if row is None:
        return None
    found: Principal = (row[0], row[1], row[2])
    for obj in found:
        db.expunge(obj)
    _PRINCIPALS[key] = (now, found)
    if len(_PRINCIPALS) > 10_000:  # many distinct keys: drop the oldest half
        for stale in sorted(_PRINCIPALS, key=lambda k: _PRINCIPALS[k][0])[:5_000]:
            _PRINCIPALS.pop(stale, None)
    return _attached(db, found)


def _attached(db: Session, found: Principal) -> Principal:
    """The cached principal's rows merged into `db` (no reload)."""
    user, account, domain = found
    return db.merge(user, load=False), db.merge(account, load=False), db.merge(domain, load=False)


@event.listens_for(Session, "after_flush")
def _forget_principals(session: Session, _ctx: Any) -> None:
    """Empty the principal cache when a flush writes a user, account or domain."""
    if _PRINCIPALS and any(
        isinstance(o, User | Account | Domain) for o in (*session.new, *session.dirty, *session.deleted)
    ):
        _PRINCIPALS.clear()


def verify_signed(db: Session, raw: dict[str, str]) -> Principal:
    """Authenticate a request signed with an API key, or raise 401."""
    _CURRENT_SESSION.set(None)
    lowered = {k.lower(): v for k, v in raw.items()}
    apikey, signature = lowered.get("apikey"), lowered.get("signature")
    if not apikey or not signature:
        raise AuthError(BAD_CREDENTIALS)
    if lowered.get("signatureversion") == "3":
        expires = lowered.get("expires")
        if not expires or _parse_expires(expires) < datetime.now(UTC):
            raise AuthError(BAD_CREDENTIALS)
    found = _principal(db, BY_APIKEY, apikey)
    unsigned = {k: v for k, v in raw.items() if k.lower() != "signature"}
    if not found[0].secretkey or not signature_matches(unsigned, found[0].secretkey, signature):
        raise AuthError(BAD_CREDENTIALS)
    return found


# Sessions are never cached: the session row and its user, account and domain are read in one query on
# every call, so a logout (the row is deleted) or a lock ends the session at once on every management server.
BY_SESSION = (
    select(User, Account, Domain, LoginSession)
    .join(Account, col(Account.id) == User.account_id)
    .join(Domain, col(Domain.id) == Account.domain_id)
    .join(LoginSession, col(LoginSession.user_id) == User.id)
    .where(User.removed == None, LoginSession.sessionkey == bindparam("v"))
)


def session_timeout(db: Session) -> timedelta:
    """How long a session lives without a call: the session.timeout setting (minutes, default 30)."""
    from virga.services.bootstrap import setting

    try:
        minutes = float(setting(db, "session.timeout", "30"))
    except ValueError:
        minutes = 30.0
    return timedelta(minutes=max(minutes, 1 / 60))


def verify_session(db: Session, param: str | None, cookie: str | None) -> Principal:
    """Authenticate by session: the sessionkey parameter must be given and match the cookie (CSRF), or 401."""
    if not param or not cookie or not hmac.compare_digest(param.encode(), cookie.encode()):
        raise AuthError(BAD_CREDENTIALS)
    row = db.exec(BY_SESSION, params={"v": param}).first()
    if row is None:
        raise AuthError(BAD_CREDENTIALS)
    user, account, domain, sess = row
    now = utcnow()
    expires = sess.expires if sess.expires.tzinfo else sess.expires.replace(tzinfo=UTC)
    if expires <= now:
        db.delete(sess)
        db.commit()
        raise AuthError(BAD_CREDENTIALS)
    if user.state != "enabled" or account.state != "enabled" or account.removed:
        raise AuthError(BAD_CREDENTIALS)
    timeout = session_timeout(db)
    if expires - now < timeout / 2:  # sliding: extended on use, written at most twice per timeout
        sess.expires = now + timeout
        db.add(sess)
    _CURRENT_SESSION.set(param)
    return user, account, domain


def current_session() -> str | None:
    """The session key the current request authenticated with (None for signed requests)."""
    return _CURRENT_SESSION.get()


def open_session(db: Session, user: User) -> LoginSession:
    """Create a login session for a user, living session.timeout after its last use."""
    sess = LoginSession(
        sessionkey=secrets.token_urlsafe(32), user_id=user.id or 0, expires=utcnow() + session_timeout(db)
    )
    db.add(sess)
    db.commit()
    return sess


def close_sessions(db: Session, user: User) -> None:
    """End the current request's session (logout), or all of the user's when it was signed with API keys."""
    key = current_session()
    stmt = select(LoginSession).where(LoginSession.sessionkey == key) if key else None
    if stmt is None:
        stmt = select(LoginSession).where(LoginSession.user_id == user.id)
    for sess in db.exec(stmt):
        db.delete(sess)
