"""The draft check of forms and glue, as the form editor relies on it."""

from __future__ import annotations

import json

from engine import drafts

TRIAGE = "workflows/nonconformity/forms/triase.json"
GLUE = "workflows/nonconformity/process.json"


def _draft(session, library, people):  # type: ignore[no-untyped-def]
    return drafts.create(session, library, "nonconformity", people.qmr, library.clock.now())


def _check(library, session, draft, files):  # type: ignore[no-untyped-def]
    base = drafts.base_files(library, session, draft)
    return drafts.check_files(library, "nonconformity", files, base).problems


def test_a_renamed_field_that_a_condition_reads_is_a_warning_naming_each_place(session, library, people):
    draft = _draft(session, library, people)
    form = json.loads(draft.files[TRIAGE])
    form["properties"] = {
        ("is_nc" if k == "is_nonconformity" else k): v for k, v in form["properties"].items()
    }
    form["required"] = ["is_nc"]
    form["if"]["properties"] = {"is_nc": {"const": True}}
    found = _check(library, session, draft, {**draft.files, TRIAGE: json.dumps(form)})
    [warning] = [p for p in found if p["element"] == "is_nonconformity" and p["severity"] == "warning"]
    assert warning["file"] == TRIAGE
    assert "condition of nc_f_not_nc (bpmn/nonconformity.bpmn)" in warning["message"]
    # The condition itself now reads a name nothing writes: an error on its flow.
    assert any(p["severity"] == "error" and "is_nonconformity" in p["message"] for p in found)


def test_an_invalid_schema_and_a_choice_without_english_words_are_errors(session, library, people):
    draft = _draft(session, library, people)
    assert [p for p in _check(library, session, draft, draft.files) if p["severity"] == "error"] == []
    form = json.loads(draft.files[TRIAGE])
    form["properties"]["impact"]["enum"].append("sangat_tinggi")
    form["properties"]["impact"]["x-mutu"]["enum_labels"]["sangat_tinggi"] = "Sangat tinggi"
    found = _check(library, session, draft, {**draft.files, TRIAGE: json.dumps(form)})
    [choice] = [p for p in found if p["element"] == "impact" and p["severity"] == "error"]
    assert "without English words: sangat_tinggi" in choice["message"]
    broken = {**draft.files, TRIAGE: json.dumps({"type": "object", "properties": {"x": {"type": "nope"}}})}
    errors = [
        p for p in _check(library, session, draft, broken) if p["file"] == TRIAGE and p["severity"] == "error"
    ]
    assert errors and "not a valid JSON Schema" in errors[0]["message"]
    untitled = json.loads(draft.files[TRIAGE])
    untitled["properties"]["note"] = {"type": "string", "title": "Catatan"}
    [warning] = [
        p
        for p in _check(library, session, draft, {**draft.files, TRIAGE: json.dumps(untitled)})
        if p["element"] == "note"
    ]
    assert warning["severity"] == "warning" and "no English label" in warning["message"]


def test_the_glue_names_roles_that_exist_and_a_numbering_that_counts(session, library, people):
    draft = _draft(session, library, people)
    glue = json.loads(draft.files[GLUE])
    glue["startable_by"] = ["quality_control", "supervisor"]
    glue["number_format"] = "NC-{year}"
    glue["objective"] = ""
    found = {
        (p["element"], p["severity"], p["message"])
        for p in _check(library, session, draft, {**draft.files, GLUE: json.dumps(glue)})
        if p["file"] == GLUE
    }
    assert ("startable_by", "error", "startable_by: no role 'supervisor'") in found
    assert ("number_format", "error", "number_format must use {seq}") in found
    assert any(e == "objective" and s == "warning" for e, s, _m in found)
