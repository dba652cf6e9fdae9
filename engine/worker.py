"""Celery workers (``mutu worker``, with ``MUTU_BROKER_URL`` naming a Redis): the scheduler's
notification, mail and digest work, evidence packs, exports and asynchronous service tasks
run there instead of in the scheduler process.

Every job is idempotent by construction: it claims outbox rows one per transaction with
``FOR UPDATE SKIP LOCKED`` and marks them done in that transaction, so a job run twice, or
redelivered after a worker was killed in its middle (late acknowledgement), sends nothing
twice and loses nothing. A job the database refuses is retried with backoff; when its
retries are spent it is logged as an error and counted, and the next scheduler round
enqueues it again. Without a broker the scheduler runs the same functions itself.
"""

from __future__ import annotations

import logging
from functools import cache
from typing import Any

from celery import Celery
from sqlalchemy.exc import DBAPIError

from .settings import Settings

log = logging.getLogger(__name__)
JOBS = {
    "notifications": "mutu.notifications",
    "digests": "mutu.digests",
    "evidence_packs": "mutu.evidence_packs",
    "exports": "mutu.exports",
    "service_tasks": "mutu.service_tasks",
    "messages": "mutu.messages",
}

celery_app = Celery("mutu")


def configure(settings: Settings) -> Celery:
    celery_app.conf.update(
        broker_url=settings.broker_url or "memory://",
        task_default_queue=settings.broker_queue,
        task_acks_late=True,  # a job is taken off the queue only when it has finished
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options={
            "visibility_timeout": settings.broker_visibility_seconds,
            # How often a worker looks for jobs a killed one held (it scans every tenth look).
            "unacked_restore_interval": max(0.1, min(60.0, settings.broker_visibility_seconds / 30)),
        },
        broker_connection_retry_on_startup=True,
        task_ignore_result=True,
        worker_hijack_root_logger=False,
    )
    return celery_app


configure(Settings.from_env())  # a worker reads MUTU_* like every other Mutu process


@cache
def _runtime() -> Any:
    from .context import build_runtime

    return build_runtime(Settings.from_env())


def _retried(name: str) -> Any:
    return celery_app.task(
        name=name,
        autoretry_for=(DBAPIError,),
        retry_backoff=True,
        retry_backoff_max=300,
        max_retries=8,
    )


@_retried("mutu.notifications")
def notifications_job() -> dict[str, int]:
    from .scheduler import notifications

    return notifications(_runtime())


@_retried("mutu.digests")
def digests_job() -> dict[str, int]:
    from .scheduler import digests

    return digests(_runtime())


@_retried("mutu.evidence_packs")
def evidence_packs_job() -> int:
    from .scheduler import evidence_packs

    return evidence_packs(_runtime())


@_retried("mutu.exports")
def exports_job() -> int:
    from .scheduler import export_jobs

    return export_jobs(_runtime())


@_retried("mutu.service_tasks")
def service_tasks_job() -> dict[str, int]:
    from .scheduler import service_tasks

    return service_tasks(_runtime())


@_retried("mutu.messages")
def messages_job() -> dict[str, int]:
    from .scheduler import messages

    return messages(_runtime())


def enqueue(job: str, settings: Settings) -> None:
    """Hand a job to the workers (the scheduler's side)."""
    configure(settings)
    celery_app.send_task(JOBS[job], queue=settings.broker_queue)


def run_worker(settings: Settings, concurrency: int = 2) -> None:
    configure(settings)
    celery_app.worker_main(
        ["worker", "--loglevel=INFO", "-Q", settings.broker_queue, "--concurrency", str(concurrency)]
    )
