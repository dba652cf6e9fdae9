"""The scheduler: APScheduler runs a few fixed jobs; due times themselves live in the database."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from . import idempotency, links, mail, message_jobs, notify
from .context import Runtime
from .db import job_lock, run_claimed, session_scope
from .models import ProcessInstance, Timer
from .runtime import ProcessEngine
from .timers import claim_due_timer
from .workspace import housekeeping

log = logging.getLogger(__name__)


PACK_POLL_SECONDS = 2.0  # how soon a requested evidence pack is taken up
SERVICE_POLL_SECONDS = 1.0  # how soon a queued asynchronous service task is called


def fire_due_timers(factory: sessionmaker[Session], engine: ProcessEngine, limit: int = 100) -> int:
    """Fire up to ``limit`` due timers, each claimed and fired in its own transaction.

    Schedulers racing each other take different timers (``claim_due_timer``), and firing is
    a conditional update, so each timer fires exactly once. A timer is tried once per pass:
    one whose case is suspended waits for the next pass, and a repeating start timer catches
    up one period per tick instead of starting a burst of instances at once.
    """

    def run(session: Session, timer_id: int) -> str:
        return "fired" if engine.fire_timer(session, timer_id) else "skipped"

    def claim(session: Session, handled: set[int]) -> int | None:
        return claim_due_timer(session, engine.clock.now(), handled)

    return run_claimed(factory, claim, run, limit, "timer").get("fired", 0)


def tick(rt: Runtime) -> int:
    """Fire every timer that is due now (in batches), and return how many fired."""
    batch = rt.settings.timer_batch
    fired = in_batches(lambda limit: {"fired": fire_due_timers(rt.sessions, rt.engine, limit)}, batch)
    return fired["fired"]


@dataclass(frozen=True)
class JobDefinition:
    id: str
    func: Callable[[Runtime], object]
    seconds: float
    at_hour: int | None = None  # daily at this local hour instead of every ``seconds``


def notifications(rt: Runtime) -> dict[str, int]:
    """Turn the steps' events into notifications, and send the mail that is due."""
    now = rt.engine.clock.now()
    with session_scope(rt.sessions) as session:
        due = notify.scan_due(session, now) if job_lock(session, "scan-due") else 0
        told = notify.dispatch(session, now)
        queued = mail.queue_immediate(session, rt, told, now)
    sent = mail.send_pending(rt.sessions, rt.settings, now)
    return {"due": due, "told": len(told), "queued": queued, **sent}


def trends(rt: Runtime) -> list[int]:
    """The trend rules: nonconformities raised from earlier findings (manual 10.2)."""
    with session_scope(rt.sessions) as session:
        if not job_lock(session, "trend-rules"):
            return []  # another scheduler is at it
        return links.evaluate(session, rt.engine, rt.engine.clock.now())


def digests(rt: Runtime) -> dict[str, int]:
    """The daily digest: one mail per user with everything they chose to hear of once a day."""
    now = rt.engine.clock.now()
    with session_scope(rt.sessions) as session:
        queued = mail.queue_digests(session, rt, now)
    return {"digests": queued, **mail.send_pending(rt.sessions, rt.settings, now)}


def tidy(rt: Runtime) -> dict[str, int]:
    """Hourly housekeeping of the web workspace (drafts, tokens, sign-in failures)."""
    with session_scope(rt.sessions) as session:
        window = timedelta(minutes=rt.settings.login_lockout_minutes)
        idle = timedelta(minutes=rt.settings.session_minutes)
        done = housekeeping(session, rt.engine.clock.now(), window, idle)
        done["idempotency_keys"] = idempotency.forget_old(session, rt.engine.clock.now())
        done["finished_jobs"] = message_jobs.forget_finished(session, rt.engine.clock.now())
        return done


def evidence_packs(rt: Runtime) -> int:
    """Build the evidence packs people asked for, off the web workers."""
    from . import packs

    return packs.run_pending(rt.sessions, rt.settings.upload_dir, rt.engine.clock.now)


def export_jobs(rt: Runtime) -> int:
    """Make the register exports too large for a web request."""
    from . import export_jobs as jobs

    return jobs.run_pending(rt.sessions, rt.engine.clock.now)


def in_batches(run: Callable[[int], dict[str, int]], batch: int = 100) -> dict[str, int]:
    """Batch after batch until one finds fewer due rows than it may take: a burst is worked
    off in one pass, not ``batch`` a second. A batch with a row that raised ends the pass, as
    the next batch would claim that row again."""
    total: dict[str, int] = {}
    while True:
        done = run(batch)
        for outcome, count in done.items():
            total[outcome] = total.get(outcome, 0) + count
        if sum(done.values()) < batch or done.get("error"):
            return total


def service_tasks(rt: Runtime) -> dict[str, int]:
    """Run the asynchronous service tasks that are due (first calls and retries)."""
    from . import service_jobs

    return in_batches(lambda limit: service_jobs.run_due(rt.sessions, rt.engine, limit))


def messages(rt: Runtime) -> dict[str, int]:
    """Deliver the BPMN messages cases threw to each other (first tries and retries)."""
    return in_batches(lambda limit: message_jobs.run_due(rt.sessions, rt.engine, limit))


def _to_workers(job: str) -> Callable[[Runtime], object]:
    def hand_over(rt: Runtime) -> None:
        from .worker import enqueue

        enqueue(job, rt.settings)

    return hand_over


def periodic_job_definitions(rt: Runtime) -> list[JobDefinition]:
    """Every periodic job, with a fixed id, declared here and nowhere else."""
    if rt.settings.broker_url:  # Celery workers do the telling; the scheduler only hands it over
        return [
            JobDefinition("fire-due-timers", tick, rt.settings.timer_poll_seconds),
            JobDefinition("housekeeping", tidy, 3600.0),
            JobDefinition("notifications", _to_workers("notifications"), rt.settings.timer_poll_seconds),
            JobDefinition("digests", _to_workers("digests"), 86400.0, at_hour=rt.settings.digest_hour),
            JobDefinition("trend-rules", trends, 3600.0),
            JobDefinition("evidence-packs", _to_workers("evidence_packs"), PACK_POLL_SECONDS),
            JobDefinition("exports", _to_workers("exports"), PACK_POLL_SECONDS),
            JobDefinition("service-tasks", _to_workers("service_tasks"), SERVICE_POLL_SECONDS),
            JobDefinition("messages", _to_workers("messages"), SERVICE_POLL_SECONDS),
        ]
    return [
        JobDefinition("fire-due-timers", tick, rt.settings.timer_poll_seconds),
        JobDefinition("housekeeping", tidy, 3600.0),
        JobDefinition("notifications", notifications, rt.settings.timer_poll_seconds),
        JobDefinition("digests", digests, 86400.0, at_hour=rt.settings.digest_hour),
        JobDefinition("trend-rules", trends, 3600.0),
        JobDefinition("evidence-packs", evidence_packs, PACK_POLL_SECONDS),
        JobDefinition("exports", export_jobs, PACK_POLL_SECONDS),
        JobDefinition("service-tasks", service_tasks, SERVICE_POLL_SECONDS),
        JobDefinition("messages", messages, SERVICE_POLL_SECONDS),
    ]


def configure(scheduler: BaseScheduler, rt: Runtime) -> BaseScheduler:
    for job in periodic_job_definitions(rt):
        if job.at_hour is not None:
            scheduler.add_job(
                job.func,
                "cron",
                args=[rt],
                id=job.id,
                hour=job.at_hour,
                coalesce=True,
                max_instances=1,
                replace_existing=True,
            )
            continue
        scheduler.add_job(
            job.func,
            "interval",
            args=[rt],
            id=job.id,
            seconds=job.seconds,
            next_run_time=datetime.now(UTC),  # at start: fire what fell due while we were down
            coalesce=True,
            max_instances=1,
            replace_existing=True,
        )
    return scheduler


def next_due(session: Session) -> datetime | None:
    """The moment the next timer that can fire falls due (a suspended case's wait)."""
    runs = or_(Timer.kind == "start", ProcessInstance.status == "running")
    return session.execute(
        select(func.min(Timer.fire_at))
        .outerjoin(ProcessInstance, ProcessInstance.id == Timer.instance_id)
        .where(Timer.status == "waiting", runs)
    ).scalar()


class TimerWatch(threading.Thread):
    """Fires each timer just past its moment: sleeps until the next one falls due, but never
    longer than ``wake`` seconds, so one a step has just created waits no longer than that."""

    def __init__(self, rt: Runtime, wake: float | None = None) -> None:
        super().__init__(name="mutu-timer-watch", daemon=True)
        self.rt, self.wake = rt, wake if wake is not None else rt.settings.timer_wake_seconds
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            due = None
            try:
                tick(self.rt)
                with session_scope(self.rt.sessions) as session:
                    due = next_due(session)
            except Exception:  # noqa: BLE001 - a database restart: try again at the next wake
                log.exception("timer watch pass failed")
            wait = self.wake
            if due is not None:
                ahead = (due - self.rt.engine.clock.now()).total_seconds()
                if ahead > 0:  # due and not fired (its case busy): the next wake, not a spin
                    wait = min(self.wake, ahead + 0.002)  # SpiffWorkflow fires only past the moment
            self.stopped.wait(wait)

    def stop(self) -> None:
        self.stopped.set()


def start_background(rt: Runtime) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone=rt.settings.zone)
    configure(scheduler, rt).start()
    TimerWatch(rt).start()
    return scheduler


def run_forever(rt: Runtime) -> None:
    log.info("scheduler: timers on time (woken at most every %ss), other jobs every %ss",
             rt.settings.timer_wake_seconds, rt.settings.timer_poll_seconds)  # fmt: skip
    TimerWatch(rt).start()
    configure(BlockingScheduler(timezone=rt.settings.zone), rt).start()
