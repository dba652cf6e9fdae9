"""The tables of signing in: sessions, API tokens, throttles, the confidentiality statement (8.5.3)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, UTCDateTime


class ConfidentialityAcceptance(Base):
    """A user accepted the confidentiality statement (manual 8.5.3) of one text version."""

    __tablename__ = "confidentiality_acceptance"

    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), primary_key=True)
    text_version: Mapped[str] = mapped_column(String(20), primary_key=True)
    text_sha256: Mapped[str] = mapped_column(String(64))
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    remote_addr: Mapped[str | None] = mapped_column(String(64))


class LoginFailure(Base):
    """A failed sign-in; recent ones of a username lock it for a while (shared by all workers)."""

    __tablename__ = "login_failure"
    __table_args__ = (Index("ix_login_failure_user", "username", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApiToken(Base):
    """A bearer token for scripts; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class LoginThrottle(Base):
    """Failed sign-ins in the current window per username or client address.

    Each attempt claims a slot with one conditional UPDATE before the password is checked,
    so parallel attempts on several workers can never pass the limit between them.
    """

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)


class WebSession(Base):
    """A signed-in browser session; signing out deletes it, so a copied cookie stops working."""

    __tablename__ = "web_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the cookie's value
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
