"""Cases linked to each other, and the trend rules that raise a nonconformity by themselves."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, UTCDateTime

# recurs: the same problem again; related: worth reading together; trend: raised by a rule
# from the earlier records it links.
LINK_KINDS = ("recurs", "related", "trend")
RULE_KINDS = ("agent_findings", "site_source")


class CaseLink(Base):
    """A link from one case to another, shown on both cases' pages."""

    __tablename__ = "case_link"
    __table_args__ = (
        UniqueConstraint("from_id", "to_id", "kind", name="uq_case_link"),
        Index("ix_case_link_to", "to_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    from_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    to_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    kind: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TrendRule(Base):
    """Data the QMR changes: so many findings within so many days raise a nonconformity.

    ``agent_findings``: nonconformities naming one agent code; ``site_source``: of one source
    (tapping, mystery shopping, ...) at one site. Records a trend already linked do not count
    again, so each raise needs ``threshold`` new findings.
    """

    __tablename__ = "trend_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), unique=True)
    threshold: Mapped[int] = mapped_column(Integer)
    window_days: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
