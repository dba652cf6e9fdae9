"""Deployment and versions: publishing, the version in effect, a version's glue, forms and specs."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.specs import BpmnProcessSpec
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .. import clock as clock_mod
from .. import deploy as deploy_mod
from ..errors import NotFound
from ..models import (
    ProcessVersion,
    Timer,
    User,
)
from ..registry import ProcessGlue, Registry, glue_from_meta
from ..spiff import spec_from_json
from ..timers import StartTimerPlan, plan_start_timers
from .types import (
    _IN_EFFECT,
)

log = logging.getLogger(__name__)


class VersionsMixin:
    # -- deployment -------------------------------------------------------------------

    def deploy(
        self,
        session: Session,
        files: list[deploy_mod.SourceFile],
        actor: User | None = None,
        *,
        registry: Registry | None = None,
        state: str = "approved",
        note: str | None = None,
        only: str | None = None,
    ) -> deploy_mod.DeployResult:
        """Publish changed processes as new versions; those in effect at once (re)plan their start timers.

        ``registry`` is the glue to deploy with (a bundle's own); by default the seed library's.
        """
        now = self.clock.now()
        result, fresh = deploy_mod.deploy(
            session,
            files,
            registry or self.registry,
            now,
            actor,
            self.services.names(),
            state=state,
            note=note,
            only=only,
        )
        for version in result.created:
            self._specs[(version.id, version.content_hash)] = fresh[version.id]
            if version.state == "approved":
                self.plan_start_timers(session, version)
        return result

    def plan_start_timers(self, session: Session, version: ProcessVersion) -> None:
        """A version taking effect replaces its process's start timers with its own."""
        now = self.clock.now()
        spec, _subs = self.specs_for(version)
        with clock_mod.using(self.clock):
            plans = plan_start_timers(spec, self.script_engine, now)
        self._replace_start_timers(session, version.process_key, plans, now)

    def _replace_start_timers(
        self, session: Session, process_key: str, plans: list[StartTimerPlan], now: datetime
    ) -> None:
        session.execute(
            update(Timer)
            .where(Timer.process_key == process_key, Timer.kind == "start", Timer.status == "waiting")
            .values(status="cancelled")
        )
        for plan in plans:
            session.add(
                Timer(
                    instance_id=None,
                    process_key=process_key,
                    task_guid=None,
                    bpmn_id=plan.bpmn_id,
                    kind="start",
                    fire_at=plan.fire_at,
                    status="waiting",
                    cycles_left=plan.cycles_left,
                    interval_seconds=plan.interval_seconds,
                    created_at=now,
                )
            )

    def latest_version(self, session: Session, process_key: str) -> ProcessVersion:
        """The version in effect now: approved, and its effective date reached. New cases start on it."""
        version = session.execute(
            _IN_EFFECT, {"key": process_key, "now": self.clock.now()}
        ).scalar_one_or_none()
        if version is None:
            raise NotFound(f"no process {process_key!r} is deployed")
        return version

    version_in_effect = latest_version

    def glue_of(self, session: Session, version: ProcessVersion) -> ProcessGlue:
        """The glue a version was published with (versions before bundles: the seed library's)."""
        key = (version.id, version.content_hash)
        glue = self._glue.get(key)
        if glue is None:
            stored = session.execute(
                select(ProcessVersion.glue, ProcessVersion.forms).where(ProcessVersion.id == version.id)
            ).one()
            if stored.glue is None:
                glue = self.registry.get(version.process_key)
            else:
                forms = {
                    ref.split("/", 1)[1]: f
                    for ref, f in (stored.forms or {}).items()
                    if ref.startswith(f"{version.process_key}/")
                }
                glue = glue_from_meta(version.process_key, stored.glue, forms)
            self._glue[key] = glue
        return glue

    def _version_meta(
        self, session: Session, version: ProcessVersion
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Lane -> role map and form schemas of a version, read once: versions never change."""
        key = (version.id, version.content_hash)
        meta = self._meta.get(key)
        if meta is None:
            row = session.execute(
                select(ProcessVersion.lane_roles, ProcessVersion.forms).where(ProcessVersion.id == version.id)
            ).one()
            meta = self._meta[key] = (row.lane_roles, row.forms)
        return meta

    def specs_for(self, version: ProcessVersion) -> tuple[BpmnProcessSpec, dict[str, BpmnProcessSpec]]:
        key = (version.id, version.content_hash)
        cached = self._specs.get(key)
        if cached is None:
            cached = spec_from_json(version.spec_json)
            self._specs[key] = cached
        return cached
