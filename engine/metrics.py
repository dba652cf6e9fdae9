"""Prometheus figures of a Mutu process: steps by process and outcome, step latency, timer lag,
sign-in failures; and, read from the database when scraped, open incidents, outbox depth and
open tasks. Each process (a gunicorn worker, the scheduler) counts its own steps; Prometheus
adds them up across the processes it scrapes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select

REGISTRY = CollectorRegistry(auto_describe=True)
STEPS = Counter(
    "mutu_steps",
    "Engine steps, by process and outcome (ok, incident)",
    ["process", "outcome"],
    registry=REGISTRY,
)
STEP_SECONDS = Histogram(
    "mutu_step_seconds",
    "Time of one engine step, SpiffWorkflow and the writes of its transaction",
    ["process"],
    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
    registry=REGISTRY,
)
TIMER_LAG = Histogram(
    "mutu_timer_lag_seconds",
    "How long after its due moment a timer fired",
    buckets=(0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0),
    registry=REGISTRY,
)
SIGNIN_FAILURES = Counter(
    "mutu_signin_failures", "Failed sign-ins (wrong password, unknown or locked user)", registry=REGISTRY
)


class _DatabaseFigures:
    """Gauges read at scrape time: what every process sees the same."""

    def __init__(self, sessions: Any) -> None:
        self.sessions = sessions

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from .db import session_scope
        from .models import HumanTask, Incident, MessageJob, ServiceJob
        from .models_notify import MailMessage, NotificationEvent

        with session_scope(self.sessions) as session:
            incidents = session.execute(
                select(func.count()).select_from(Incident).where(Incident.resolved_at.is_(None))
            ).scalar_one()
            mail = session.execute(
                select(func.count()).select_from(MailMessage).where(MailMessage.status == "pending")
            ).scalar_one()
            events = session.execute(
                select(func.count()).select_from(NotificationEvent).where(NotificationEvent.done_at.is_(None))
            ).scalar_one()
            tasks = session.execute(
                select(func.count()).select_from(HumanTask).where(HumanTask.status == "open")
            ).scalar_one()
            service = session.execute(
                select(func.count()).select_from(ServiceJob).where(ServiceJob.status == "waiting")
            ).scalar_one()
            message = session.execute(
                select(func.count()).select_from(MessageJob).where(MessageJob.status == "waiting")
            ).scalar_one()
        yield GaugeMetricFamily(
            "mutu_open_incidents", "Cases stopped at an error, not yet resolved", value=incidents
        )
        outbox = GaugeMetricFamily("mutu_outbox_depth", "Waiting in the outbox", labels=["kind"])
        outbox.add_metric(["mail"], mail)
        outbox.add_metric(["notification_event"], events)
        outbox.add_metric(["service_job"], service)
        outbox.add_metric(["message_job"], message)
        yield outbox
        yield GaugeMetricFamily("mutu_open_tasks", "Open human tasks", value=tasks)


def exposition(sessions: Any) -> bytes:
    """The text format for one scrape: this process's counters and the database's gauges."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_DatabaseFigures(sessions))
    return generate_latest(REGISTRY) + generate_latest(registry)
