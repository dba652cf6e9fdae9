"""Every setting of Mutu in one place: a ``MUTU_*`` variable, a typed default and one line of doc."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, fields
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """A setting has a value Mutu cannot use; start-up stops with this one line."""


def _default_database_url() -> str:
    return f"sqlite:///{PROJECT_ROOT / 'instance' / 'mutu.sqlite3'}"


@dataclass(frozen=True)
class Settings:
    """Typed settings; build with ``Settings.from_env()`` so bad values fail early."""

    database_url: str = field(
        default_factory=_default_database_url,
        metadata={"doc": "SQLAlchemy URL; SQLite under instance/ unless set (postgresql+psycopg://...)"},
    )
    secret_key: str = field(
        default="",
        metadata={"doc": "key that signs web sessions; generated per process when empty"},
    )
    time_zone: str = field(
        default="Asia/Jakarta",
        metadata={"doc": "IANA time zone that due dates and reports are shown in"},
    )
    admin_password: str = field(
        default="",
        metadata={"doc": "password of the first admin account; generated and printed once when empty"},
    )
    port: int = field(default=5000, metadata={"doc": "TCP port the web app listens on"})
    host: str = field(default="127.0.0.1", metadata={"doc": "address the web app listens on"})
    bpmn_dir: Path = field(default=PROJECT_ROOT / "bpmn", metadata={"doc": "folder of the process library"})
    workflows_dir: Path = field(
        default=PROJECT_ROOT / "workflows",
        metadata={"doc": "folder of per-process glue (forms, lane -> role maps, case fields)"},
    )
    timer_poll_seconds: float = field(
        default=5.0, metadata={"doc": "how often the scheduler looks for due timers"}
    )
    timer_batch: int = field(default=100, metadata={"doc": "due timers fired per scheduler tick"})
    timer_wake_seconds: float = field(
        default=1.0,
        metadata={"doc": "longest the scheduler sleeps before looking for a timer a step has just created"},
    )
    script_timeout_seconds: float = field(
        default=2.0, metadata={"doc": "wall-clock limit for one script task or condition"}
    )
    max_upload_bytes: int = field(
        default=5 * 1024 * 1024, metadata={"doc": "largest BPMN/DMN file accepted for deploy"}
    )
    sql_echo: bool = field(default=False, metadata={"doc": "log every SQL statement"})
    upload_dir: Path = field(
        default=PROJECT_ROOT / "instance" / "uploads",
        metadata={"doc": "folder where evidence files are kept, named by their SHA-256"},
    )
    export_inline_rows: int = field(
        default=5000, metadata={"doc": "larger register exports are made off the web workers, with progress"}
    )
    max_evidence_bytes: int = field(
        default=10 * 1024 * 1024, metadata={"doc": "largest evidence file accepted on a form"}
    )
    session_minutes: int = field(
        default=480, metadata={"doc": "a web session ends after this many idle minutes"}
    )
    login_max_failures: int = field(
        default=5, metadata={"doc": "failed sign-ins of one username before it is locked for a while"}
    )
    login_lockout_minutes: int = field(
        default=15, metadata={"doc": "how long failed sign-ins count and a locked username waits"}
    )
    login_max_failures_per_address: int = field(
        default=20, metadata={"doc": "failed sign-ins from one client address before it waits too"}
    )
    token_hours: int = field(default=8, metadata={"doc": "lifetime of an API bearer token"})
    secure_cookies: bool = field(
        default=True,
        metadata={"doc": "send cookies only over HTTPS and ask browsers for HSTS (make run turns it off)"},
    )
    qmr_publishes_alone: bool = field(
        default=False,
        metadata={"doc": "a version the QMR publishes takes effect without the Director's approval"},
    )
    proxy_hops: int = field(
        default=0,
        metadata={"doc": "reverse proxies in front whose X-Forwarded-For and -Proto to trust (0: none)"},
    )
    script_memory_mb: int = field(
        default=256, metadata={"doc": "memory a script may allocate beyond what the process holds"}
    )
    smtp_url: str = field(
        default="",
        metadata={"doc": "mail server, smtp://[user:password@]host:port or smtps://...; no mail when empty"},
    )
    mail_from: str = field(default="mutu@localhost", metadata={"doc": "sender address of Mutu's mail"})
    base_url: str = field(
        default="http://127.0.0.1:5000", metadata={"doc": "address of the web app that mail links point to"}
    )
    digest_hour: int = field(default=7, metadata={"doc": "local hour at which daily digests are sent"})
    log_format: str = field(
        default="text", metadata={"doc": "text, or json: one JSON object a line with request, user and case"}
    )
    oidc_issuer: str = field(default="", metadata={"doc": "OIDC issuer URL; sign-in through it when set"})
    oidc_client_id: str = field(default="", metadata={"doc": "OIDC client id of Mutu"})
    oidc_client_secret: str = field(default="", metadata={"doc": "OIDC client secret of Mutu"})
    oidc_groups_claim: str = field(
        default="groups", metadata={"doc": "ID-token claim listing the user's groups"}
    )
    oidc_role_map: str = field(
        default="", metadata={"doc": 'JSON: group -> role or role@Site, e.g. {"cc-qmr": "qmr"}'}
    )
    broker_url: str = field(
        default="",
        metadata={"doc": "Redis URL of the Celery broker; work leaves the scheduler for `mutu worker`"},
    )
    broker_queue: str = field(default="mutu", metadata={"doc": "Celery queue Mutu's jobs go to"})
    broker_visibility_seconds: int = field(
        default=3600, metadata={"doc": "a job a killed worker held is given to another after this long"}
    )
    metrics_token: str = field(
        default="", metadata={"doc": "bearer token Prometheus sends for /metrics; without it, loopback only"}
    )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> Settings:
        """Read ``MUTU_*`` variables, convert them to their types and check them."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            name = "MUTU_" + f.name.upper()
            if f.name in overrides:
                values[f.name] = overrides[f.name]
                continue
            raw = env.get(name)
            if raw is None or raw == "":
                continue
            values[f.name] = _convert(name, raw, f.type)
        settings = cls(**values)
        settings.check()
        if not settings.secret_key:
            object.__setattr__(settings, "secret_key", _instance_secret(settings))
        return settings

    def check(self) -> None:
        """Refuse values that would fail later in a less obvious place."""
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(f"MUTU_TIME_ZONE: unknown time zone {self.time_zone!r}") from None
        if not (0 < self.port < 65536):
            raise SettingsError(f"MUTU_PORT: {self.port} is not a TCP port (1-65535)")
        if not self.database_url.startswith(("sqlite", "postgresql")):
            raise SettingsError(
                "MUTU_DATABASE_URL: only sqlite:/// and postgresql+psycopg:// URLs are supported"
            )
        if not 0 < self.timer_wake_seconds <= 60:
            raise SettingsError("MUTU_TIMER_WAKE_SECONDS: more than 0 and at most 60")
        if self.timer_poll_seconds <= 0:
            raise SettingsError("MUTU_TIMER_POLL_SECONDS: must be greater than 0")
        if self.script_timeout_seconds <= 0:
            raise SettingsError("MUTU_SCRIPT_TIMEOUT_SECONDS: must be greater than 0")
        if self.smtp_url and not self.smtp_url.startswith(("smtp://", "smtps://")):
            raise SettingsError("MUTU_SMTP_URL: must start with smtp:// or smtps://")
        if self.broker_url and not self.broker_url.startswith(("redis://", "rediss://")):
            raise SettingsError("MUTU_BROKER_URL: a redis:// or rediss:// URL")
        if self.log_format not in ("text", "json"):
            raise SettingsError("MUTU_LOG_FORMAT: text or json")
        if not (0 <= self.digest_hour < 24):
            raise SettingsError("MUTU_DIGEST_HOUR: must be an hour from 0 to 23")
        for name in ("max_evidence_bytes", "session_minutes", "login_max_failures", "token_hours"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"MUTU_{name.upper()}: must be greater than 0")


def _instance_secret(settings: Settings) -> str:
    """A key kept beside the SQLite database, so every worker and restart signs alike.

    With PostgreSQL and no key set, each process makes its own: set MUTU_SECRET_KEY there.
    """
    if not settings.database_url.startswith("sqlite:///") or ":memory:" in settings.database_url:
        return secrets.token_hex(32)
    path = Path(settings.database_url.removeprefix("sqlite:///")).parent / "secret_key"
    try:
        if path.exists():
            return path.read_text().strip()
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(key)
        return key
    except OSError:
        return secrets.token_hex(32)


def _convert(name: str, raw: str, type_name: object) -> object:
    type_text = str(type_name)
    try:
        if type_text == "int":
            return int(raw)
        if type_text == "float":
            return float(raw)
        if type_text == "bool":
            lowered = raw.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if type_text == "Path":
            return Path(raw)
    except ValueError:
        raise SettingsError(f"{name}: {raw!r} is not a valid {type_text}") from None
    return raw


def describe() -> list[tuple[str, str, str]]:
    """List (variable, default, doc) for the README and ``mutu settings``."""
    rows = []
    for f in fields(Settings):
        default = f.default_factory() if callable(f.default_factory) else f.default
        rows.append(("MUTU_" + f.name.upper(), str(default), f.metadata.get("doc", "")))
    return rows
