"""Failed logins: after incorrect.login.attempts.allowed wrong passwords in a row the user is locked."""

from __future__ import annotations

from sqlmodel import Session
from virga.models import Account, User
from virga.services.bootstrap import setting
from virga.services.events import raise_alert, record_event
from virga.services.states import can, transition

DEFAULT_ALLOWED = 5


def allowed_attempts(s: Session) -> int:
    """The incorrect.login.attempts.allowed setting (5 by default; 0 or less never locks)."""
    try:
        return int(setting(s, "incorrect.login.attempts.allowed", str(DEFAULT_ALLOWED)))
    except ValueError:
        return DEFAULT_ALLOWED


def login_failed(s: Session, user: User) -> None:
    """Count a wrong password (committed at once: the login is refused); lock the user at the limit."""
    user.incorrect_login_attempts = (user.incorrect_login_attempts or 0) + 1
    limit = allowed_attempts(s)
    if limit > 0 and user.incorrect_login_attempts >= limit and can(user, "lock"):
        transition(user, "lock")
        acct = s.get(Account, user.account_id)
        text = f"User {user.username} locked after {user.incorrect_login_attempts} incorrect login attempts"
        record_event(
            s,
            "USER.LOCK",
            text,
            account_id=user.account_id,
            domain_id=acct.domain_id if acct else None,
            user_id=user.id,
            level="WARN",
            resource=user,
        )
        raise_alert(s, "USER_LOCKED", text)
    s.add(user)
    s.commit()


def login_succeeded(s: Session, user: User) -> None:
    """A right password resets the count of wrong ones."""
    if user.incorrect_login_attempts:
        user.incorrect_login_attempts = 0
        s.add(user)


def unlocked(user: User) -> None:
    """enableUser: the user may log in again with a fresh count."""
    user.incorrect_login_attempts = 0
