"""Requirement-change review (manual 8.2.3, 8.2.4): its scenario files take every flow of the diagram."""

from __future__ import annotations

import pytest

from engine.errors import NotAuthorized
from tests.scenario import assert_full_coverage, assert_passes, scenario_paths

REQUEST = {
    "change_type": "product",
    "service": "147",
    "pks_clause": "Pasal 5 ayat 2",
    "description": "Penambahan informasi paket IndiHome baru pada layanan 147",
    "requested_effective_date": "2026-02-01",
    "answer_days": 10,
}


@pytest.mark.parametrize("path", scenario_paths("requirement_change"))
def test_scenario(scenario_sandbox, path):
    assert_passes(scenario_sandbox, "requirement_change", path)


def test_every_flow_of_the_requirement_change_diagram_is_taken(scenario_sandbox):
    assert_full_coverage(scenario_sandbox, "requirement_change")


def test_only_the_client_liaison_or_the_qmr_logs_a_change(session, library, people):
    with pytest.raises(NotAuthorized):
        library.start(session, "requirement_change", people.agent, REQUEST)
    assert library.start(session, "requirement_change", people.client, REQUEST).incident is None
