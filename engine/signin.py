"""Signing in: passwords with exact throttles, server-side browser sessions, API tokens.

Throttles count failures per username and per client address in the database, each
attempt claiming its slot with one conditional UPDATE before the password is checked: every
worker and every parallel attempt sees the same count, so the limit is exact.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, case, delete, exists, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from . import audit, fastload, fastsql, metrics
from .errors import MutuError
from .idempotency import Answer, IdempotencyKey
from .identity import check_password
from .models import User, UTCDateTime
from .models_signin import ApiToken, ConfidentialityAcceptance, LoginFailure, LoginThrottle, WebSession


class BadCredentials(MutuError):
    code = "bad_credentials"
    http_status = 401


class LoginThrottled(MutuError):
    code = "too_many_attempts"
    http_status = 429

    def __init__(self, minutes: int, what: str = "sign-ins for this username"):
        self.minutes = minutes
        super().__init__(f"too many failed {what}; try again in {minutes} minutes")


# -- throttles ------------------------------------------------------------------------------


def _insert_ignore(session: Session, values: dict[str, object]) -> bool:
    """Insert the row unless it exists; True when this call inserted it."""
    table = LoginThrottle.__table__
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).values(values).on_conflict_do_nothing().returning(table.c.key)
    return session.execute(stmt).first() is not None


def _claim(session: Session, key: str, now: datetime, window: timedelta, limit: int) -> bool:
    """Take one attempt of ``key``'s budget; False when the window's budget is spent."""
    t = LoginThrottle.__table__
    stale = t.c.window_start < bindparam("cutoff", type_=UTCDateTime())
    take = (
        update(t)
        .where(t.c.key == key, or_(stale, t.c.failures < limit))
        .values(
            failures=case((stale, 1), else_=t.c.failures + 1),
            window_start=case((stale, bindparam("now", type_=UTCDateTime())), else_=t.c.window_start),
        )
    )
    params = {"cutoff": now - window, "now": now}
    for _attempt in range(2):  # a row another attempt inserted in between: take from it
        if session.execute(take, params).rowcount == 1:
            return True
        if _insert_ignore(session, {"key": key, "failures": 1, "window_start": now}):
            return True
    return False


def _release(session: Session, key: str) -> None:
    t = LoginThrottle.__table__
    session.execute(update(t).where(t.c.key == key, t.c.failures > 0).values(failures=t.c.failures - 1))


def sign_in(
    session: Session,
    username: str,
    password: str,
    now: datetime,
    *,
    remote_addr: str | None = None,
    max_failures: int = 5,
    max_failures_per_address: int = 20,
    window: timedelta = timedelta(minutes=15),
) -> User:
    """Check a username and password; failures lock the username, and the address, for ``window``.

    An unknown username is counted like a known one, so the reply tells nothing apart. A
    success gives back its attempts; a throttled attempt counts nothing.
    """
    username = username.strip()[:64]
    minutes = int(window.total_seconds() // 60)
    user_key = f"user:{username.lower()}"
    addr_key = f"addr:{remote_addr or '-'}"[:120]
    with session.begin_nested() as claims:
        if not _claim(session, user_key, now, window, max_failures):
            claims.rollback()
            raise LoginThrottled(minutes)
        if not _claim(session, addr_key, now, window, max_failures_per_address):
            claims.rollback()
            raise LoginThrottled(minutes, "sign-ins from this address")
    user = session.execute(select(User).where(User.username == username)).unique().scalar_one_or_none()
    if user is None or not user.active or not check_password(user, password):
        session.add(LoginFailure(username=username, remote_addr=(remote_addr or "")[:64] or None, at=now))
        metrics.SIGNIN_FAILURES.inc()
        raise BadCredentials("unknown username or wrong password")
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == user_key))
    _release(session, addr_key)
    session.execute(delete(LoginFailure).where(LoginFailure.username == username))
    return user


def confirm_password(
    session: Session,
    user: User,
    password: str,
    now: datetime,
    *,
    max_failures: int = 5,
    window: timedelta = timedelta(minutes=15),
) -> None:
    """Check a signed-in user's password again (an e-signature): a wrong one counts as a failed sign-in.

    It takes from the same budget as signing in, so guessing through signatures locks the
    account just as guessing at the sign-in page does. The caller commits on failure too.
    """
    key = f"user:{user.username.lower()}"
    minutes = int(window.total_seconds() // 60)
    with session.begin_nested() as claim:
        if not _claim(session, key, now, window, max_failures):
            claim.rollback()
            raise LoginThrottled(minutes)
    if not user.active or not password or not check_password(user, password):
        session.add(LoginFailure(username=user.username, remote_addr=None, at=now))
        metrics.SIGNIN_FAILURES.inc()
        raise BadCredentials("wrong password")
    _release(session, key)


# -- browser sessions ---------------------------------------------------------------------------


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def open_web_session(session: Session, user: User, now: datetime) -> str:
    """A new server-side session; the cookie carries the returned value, the table its hash."""
    token = secrets.token_urlsafe(32)
    session.add(WebSession(id=_sha(token), user_id=user.id, created_at=now, seen_at=now))
    return token


_SESSION_USER = (
    select(User, WebSession)
    .join(WebSession, WebSession.user_id == User.id)
    .where(WebSession.id == bindparam("sid"), User.id == bindparam("uid"), User.active.is_(True))
)


def web_session_user(
    session: Session, token: str, user_id: int, now: datetime, idle: timedelta
) -> User | None:
    """The user of a live session; a session idle past ``idle`` or signed out is gone."""
    row = session.execute(_SESSION_USER, {"sid": _sha(token), "uid": user_id}).unique().first()
    if row is None:
        return None
    user, web = row
    if web.seen_at < now - idle:
        session.delete(web)
        return None
    if web.seen_at < now - timedelta(minutes=1):  # one write a minute at most
        web.seen_at = now
    return user


def close_web_session(session: Session, token: str | None) -> None:
    if token:
        session.execute(delete(WebSession).where(WebSession.id == _sha(token)))


def close_all_web_sessions(session: Session, user_id: int) -> None:
    session.execute(delete(WebSession).where(WebSession.user_id == user_id))


# -- the confidentiality statement -------------------------------------------------------------


def accept_statement(
    session: Session, user: User, text_version: str, text: str, now: datetime, remote_addr: str | None
) -> None:
    """Record that ``user`` accepted this version of the confidentiality statement (8.5.3)."""
    if session.get(ConfidentialityAcceptance, {"user_id": user.id, "text_version": text_version}):
        return
    session.add(
        ConfidentialityAcceptance(
            user_id=user.id,
            text_version=text_version,
            text_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
            accepted_at=now,
            remote_addr=remote_addr,
        )
    )
    audit.record(
        session,
        "statement_accepted",
        now,
        actor=user,
        chain=f"user:{user.id}",
        data={"text_version": text_version, "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()},
    )


# -- API tokens ---------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(session: Session, user: User, now: datetime, lifetime: timedelta) -> tuple[str, datetime]:
    """A fresh bearer token; only its hash is stored, so a database leak yields no tokens."""
    token = secrets.token_urlsafe(32)
    expires = now + lifetime
    session.add(
        ApiToken(token_sha256=_token_hash(token), user_id=user.id, created_at=now, expires_at=expires)
    )
    return token, expires


# Built once and run on the driver (``fastload``): an API request runs this first, and the
# ORM's loading of its user cost it more than the database took to answer.
_USERS = User.__table__
_TOKEN_USER = (
    select(
        *_USERS.c,
        exists()
        .where(
            ConfidentialityAcceptance.user_id == _USERS.c.id,
            ConfidentialityAcceptance.text_version == bindparam("version"),
        )
        .label("accepted"),
    )
    .join(ApiToken, ApiToken.user_id == _USERS.c.id)
    .where(
        ApiToken.token_sha256 == bindparam("token_hash"),
        ApiToken.expires_at > bindparam("now", type_=UTCDateTime()),
        ApiToken.revoked.is_(False),
        _USERS.c.active.is_(True),
    )
)
_TOKEN_USER_ROW = fastsql.Prepared(_TOKEN_USER)


# With an Idempotency-Key the same query brings the answer stored under it, so a keyed start
# or completion asks the database nothing more before its step (on PostgreSQL, a round trip).
_KEYS = IdempotencyKey.__table__
_TOKEN_USER_ANSWER = fastsql.Prepared(
    _TOKEN_USER.add_columns(_KEYS.c.request, _KEYS.c.status, _KEYS.c.body).outerjoin(
        _KEYS, and_(_KEYS.c.user_id == _USERS.c.id, _KEYS.c.key == bindparam("key"))
    )
)
_USER = fastload.entities((User, list(_USERS.c)))[0]
_ACCEPTED = _USER.stop


def user_for_token(
    session: Session, token: str, now: datetime, statement_version: str = "", key: str | None = None
) -> tuple[User | None, bool, Answer | None]:
    """The token's user, whether they accepted ``statement_version``, and the answer stored
    under their idempotency ``key`` (None: none stored, or no key asked), in one query."""
    params: dict[str, object] = {"token_hash": _token_hash(token), "now": now, "version": statement_version}
    if key is not None:
        params["key"] = key
    row = fastsql.fetch_first(session, _TOKEN_USER_ROW if key is None else _TOKEN_USER_ANSWER, params)
    if row is None:
        return None, False, None
    user = _USER.held_or_added(session, row)
    at = _ACCEPTED
    answer = (
        Answer(row[at + 1], row[at + 2], row[at + 3]) if key is not None and row[at + 1] is not None else None
    )
    return user, bool(row[at]), answer


def revoke_token(session: Session, token: str) -> None:
    row = session.execute(
        select(ApiToken).where(ApiToken.token_sha256 == _token_hash(token))
    ).scalar_one_or_none()
    if row is not None:
        row.revoked = True
