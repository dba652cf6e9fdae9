"""Every form of the process library renders in both languages and reads back typed values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask import Flask, render_template_string
from werkzeug.datastructures import MultiDict

from web import formkit
from web.core import LANGUAGES

ROOT = Path(__file__).resolve().parent.parent
FORMS = sorted((ROOT / "workflows").glob("*/forms/*.json"))
KINDS = {
    "text",
    "textarea",
    "select",
    "number",
    "integer",
    "date",
    "boolean",
    "rows",
    "files",
    "checks",
    "lines",
}


@pytest.mark.parametrize("path", FORMS, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_every_form_renders_in_both_languages(path: Path) -> None:
    schema = json.loads(path.read_text(encoding="utf-8"))
    app = Flask(__name__, template_folder=str(ROOT / "web" / "templates"))
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    for lang in LANGUAGES:
        fields = formkit.build(schema, lang)
        for field in fields:
            assert field.kind in KINDS, (field.key, field.kind)
            assert field.label and field.label != field.key.rsplit(".", 1)[-1] or lang == "id", field.key
        with app.test_request_context():
            html = render_template_string(
                '{% from "_form.html" import render_fields with context %}{{ render_fields(fields) }}',
                fields=fields,
            )
        for field in fields:
            assert f'data-key="{field.key}"' in html or f'data-field="{field.key}"' in html


def test_typed_values_read_back_and_wrong_types_are_errors() -> None:
    schema = {
        "type": "object",
        "properties": {
            "score": {"type": "integer"},
            "ratio": {"type": "number"},
            "ok": {"type": "boolean"},
            "whys": {"type": "array", "items": {"type": "string"}},
            "needs": {"type": "array", "items": {"type": "string", "enum": ["people", "tools"]}},
            "rows": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"what": {"type": "string"}, "n": {"type": "integer"}},
                },
            },
        },
    }
    form = MultiDict(
        [
            ("f.score", "7"),
            ("f.ratio", "0,5"),
            ("f.ok", "false"),
            ("f.whys", "one\n\ntwo\n"),
            ("f.needs", "people"),
            ("f.needs", "tools"),
            ("f.rows.0.what", "a"),
            ("f.rows.0.n", "1"),
            ("f.rows.4.what", "b"),
            ("f.rows.7.what", ""),
        ]
    )
    data, errors = formkit.parse(schema, form)
    assert not errors
    assert data == {
        "score": 7,
        "ratio": 0.5,
        "ok": False,
        "whys": ["one", "two"],
        "needs": ["people", "tools"],
        "rows": [{"what": "a", "n": 1}, {"what": "b"}],
    }
    data, errors = formkit.parse(
        schema, MultiDict([("f.score", "7.5"), ("f.ratio", "abc"), ("f.ok", "maybe")])
    )
    assert errors == {"score": ["type:integer"], "ratio": ["type:number"], "ok": ["type:boolean"]}
    assert data["ratio"] == "abc"  # kept as typed, to show beside its error
