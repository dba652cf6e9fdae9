"""Requirement-change review end to end (manual 8.2.3, 8.2.4); every flow of its diagram taken."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.errors import NotAuthorized, ValidationFailed
from tests.scenario import Case, assert_full_coverage

REQUEST = {
    "change_type": "product",
    "service": "147",
    "pks_clause": "Pasal 5 ayat 2",
    "description": "Penambahan informasi paket IndiHome baru pada layanan 147",
    "requested_effective_date": "2026-02-01",
    "answer_days": 10,
}
INFORMED = {"client_informed_on": "2026-01-10", "client_message": "Keputusan disampaikan melalui surat resmi"}


class RcCase(Case):
    def __init__(self, session, engine, people, request=REQUEST):  # type: ignore[no-untyped-def]
        super().__init__(session, engine, "requirement_change", people.client, request)
        self.people = people

    def review(self) -> None:
        p = self.people
        self.do(
            "rc_confirm", p.qmr, {"change_confirmed": True, "confirmation_note": "Dikonfirmasi via rapat"}
        )
        assert self.open() == ["rc_review_ops", "rc_review_pks", "rc_review_product"]
        self.do(
            "rc_review_product",
            p.qmr,
            {"requirements_defined": True, "product_notes": "Spesifikasi paket lengkap"},
        )
        self.do(
            "rc_review_pks", p.client, {"pks_differences_resolved": True, "pks_notes": "Addendum disepakati"}
        )
        self.do("rc_review_ops", p.ops, {"operation_capable": True, "needs": ["training"]})
        assert self.open() == ["rc_decide"]

    def finish(self) -> None:  # type: ignore[override]
        super().finish("requirement_change.bpmn")


def test_change_not_confirmed_by_the_client_is_withdrawn(session, library, people):
    case = RcCase(session, library, people)
    assert case.case().number == "RC-2026-0001" and case.case().fields["pks_clause"] == "Pasal 5 ayat 2"
    case.do("rc_confirm", people.qmr, {"change_confirmed": False, "confirmation_note": "Klien membatalkan"})
    assert case.instance.status == "completed"
    case.finish()


def test_accepted_change_updates_register_trains_agents_and_answers_the_client(session, library, people):
    with pytest.raises(NotAuthorized):  # only the client liaison or the QMR logs a change
        library.start(session, "requirement_change", people.agent, REQUEST)
    case = RcCase(session, library, people)
    case.review()
    decide = case.task("rc_decide")
    assert decide.role_key == "director"
    assert decide.due_at == library.clock.now() + timedelta(days=10)  # the promised answer date
    with pytest.raises(ValidationFailed) as info:
        case.do("rc_decide", people.director, {"decision": "accept_with_conditions"})
    assert set(info.value.errors) == {"conditions"}
    case.do("rc_decide", people.director, {"decision": "accept"})
    case.do(
        "rc_update_register",
        people.qmr,
        {
            "register_entry": "REQ-147-031 paket baru",
            "source_type": "customer_pks",
            "documents": [{"document": "SOP Informasi Produk", "revision": "05"}],
        },
    )
    assert case.open() == ["rc_training"]
    case.do(
        "rc_training",
        people.tl,
        {"sessions": [{"kind": "socialisation", "date": "2026-01-20", "site": "Bandung"}]},
    )
    case.do("rc_inform", people.client, INFORMED)
    assert case.instance.status == "completed"
    assert case.case().status == "Selesai" and case.case().fields["decision"] == "accept"
    case.finish()


def test_late_answer_escalates_while_the_decision_stays_open(session, library, people):
    case = RcCase(session, library, people)
    case.review()
    case.wait(timedelta(days=10, minutes=1))  # the promised answer date passes
    assert case.open() == ["rc_decide", "rc_escalate"]
    case.do(
        "rc_escalate", people.qmr, {"escalation_note": "Klien diberi tahu keputusan menyusul dua hari lagi"}
    )
    assert case.open() == ["rc_decide"]
    case.do(
        "rc_decide",
        people.director,
        {"decision": "accept_with_conditions", "conditions": "Berlaku mulai Maret"},
    )
    case.do(
        "rc_update_register",
        people.qmr,
        {"register_entry": "REQ-147-032", "documents": [{"document": "IK-147", "revision": "02"}]},
    )
    case.do(
        "rc_training", people.tl, {"sessions": [{"kind": "training", "date": "2026-02-20", "site": "Malang"}]}
    )
    case.do("rc_inform", people.client, INFORMED)
    assert case.instance.status == "completed"
    case.finish()


def test_rejected_change_is_explained_to_the_client(session, library, people):
    case = RcCase(session, library, people, {**REQUEST, "answer_days": 5})
    case.review()
    case.do(
        "rc_decide",
        people.director,
        {"decision": "reject", "decision_reason": "Kapasitas agen belum memadai"},
    )
    assert case.open() == ["rc_inform_reject"]
    case.do("rc_inform_reject", people.client, INFORMED)
    assert case.instance.status == "completed" and case.case().fields["decision"] == "reject"
    case.finish()


def test_every_flow_of_the_requirement_change_diagram_is_taken():
    assert_full_coverage("requirement_change.bpmn", "requirement_change")
