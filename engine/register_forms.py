"""The forms that add and follow up register rows, as JSON Schema like the task forms: the web
renders them with the task pages' renderer and the engine validates what any edge sends."""

from __future__ import annotations

from typing import Any

from .policy import SITES

SERVICES = {
    "147": "Contact Center 147",
    "indihome_digital": "Digital Media IndiHome",
    "108": "Call Center 108",
}


def _text(title: str, title_en: str, low: int = 1, high: int = 200, **more: Any) -> dict[str, Any]:
    return {
        "type": "string",
        "title": title,
        "minLength": low,
        "maxLength": high,
        "x-mutu": {"title_en": title_en, **more},
    }


def _choice(title: str, title_en: str, labels: dict[str, tuple[str, str]]) -> dict[str, Any]:
    return {
        "type": "string",
        "title": title,
        "enum": list(labels),
        "x-mutu": {
            "title_en": title_en,
            "enum_labels": {k: v[0] for k, v in labels.items()},
            "enum_labels_en": {k: v[1] for k, v in labels.items()},
        },
    }


def _date(title: str, title_en: str) -> dict[str, Any]:
    return {"type": "string", "format": "date", "title": title, "x-mutu": {"title_en": title_en}}


SITE = _choice("Lokasi", "Site", {s: (s, s) for s in SITES})
SERVICE = _choice("Layanan", "Service", {k: (v, v) for k, v in SERVICES.items()})
CHANNEL_WORDS = {
    "email": ("Surel", "E-mail"),
    "phone": ("Telepon", "Phone"),
    "meeting": ("Rapat", "Meeting"),
    "letter": ("Surat", "Letter"),
    "portal": ("Portal klien", "Client portal"),
}
COMMUNICATION_WORDS = {
    "product_info": ("Informasi produk", "Product information"),
    "agreement": ("Kesepakatan", "Agreement"),
    "feedback": ("Umpan balik", "Feedback"),
    "complaint": ("Keluhan", "Complaint"),
}
ACTIVITY_WORDS = {
    "socialisation": ("Sosialisasi", "Briefing"),
    "refreshment": ("Penyegaran", "Refresher"),
    "sop_refresh": ("Penyegaran SOP", "SOP refresher"),
    "training": ("Pelatihan", "Training"),
    "reward": ("Penghargaan", "Reward"),
    "punishment": ("Sanksi", "Sanction"),
}
TOOL_WORDS = {
    "recording": ("Perekaman", "Recording"),
    "tapping": ("Tapping", "Tapping"),
    "dialer": ("Dialer", "Dialer"),
    "other": ("Lainnya", "Other"),
}
SOURCE_WORDS = {
    "customer_pks": ("PKS pelanggan", "Customer contract (PKS)"),
    "internal": ("Internal", "Internal"),
    "statutory": ("Peraturan perundangan", "Statutory"),
    "additional": ("Tambahan", "Additional"),
}
CODES_PATTERN = "^[0-9 ,\n\r]*$"

FORMS: dict[str, dict[str, Any]] = {
    "communication": {
        "type": "object",
        "title": "Catat komunikasi dengan klien",
        "x-mutu": {"title_en": "Log a client communication"},
        "required": ["client", "on_date", "channel", "kind", "summary"],
        "properties": {
            "client": _text("Klien", "Client", 2, 120),
            "on_date": _date("Tanggal", "Date"),
            "channel": _choice("Saluran", "Channel", CHANNEL_WORDS),
            "kind": _choice("Jenis", "Kind", COMMUNICATION_WORDS),
            "site": SITE,
            "service": SERVICE,
            "summary": _text("Ringkasan", "Summary", 3, 4000, widget="textarea"),
        },
    },
    "activity": {
        "type": "object",
        "title": "Rencanakan kegiatan pemeliharaan",
        "x-mutu": {"title_en": "Plan a preservation activity"},
        "required": ["kind", "title", "site", "planned_on"],
        "properties": {
            "kind": _choice("Jenis", "Kind", ACTIVITY_WORDS),
            "title": _text("Judul", "Title", 3, 200),
            "site": SITE,
            "planned_on": _date("Direncanakan", "Planned for"),
            "agents": {
                "type": "string",
                "title": "Agen yang diharapkan (kode)",
                "pattern": CODES_PATTERN,
                "maxLength": 4000,
                "x-mutu": {
                    "title_en": "Agents expected (codes)",
                    "widget": "textarea",
                    "help": "Pisahkan dengan spasi atau koma; kosongkan untuk semua agen lokasi ini.",
                    "help_en": "Separate with spaces or commas; leave empty for every agent of the site.",
                },
            },
        },
    },
    "attendance": {
        "type": "object",
        "title": "Catat kehadiran",
        "x-mutu": {"title_en": "Record attendance"},
        "required": ["held_on"],
        "properties": {
            "held_on": _date("Dilaksanakan", "Held on"),
            "present": {
                "type": "string",
                "title": "Agen yang hadir (kode)",
                "pattern": CODES_PATTERN,
                "maxLength": 8000,
                "x-mutu": {"title_en": "Agents present (codes)", "widget": "textarea"},
            },
        },
    },
    "tool": {
        "type": "object",
        "title": "Tambah alat monitoring",
        "x-mutu": {"title_en": "Add a monitoring tool"},
        "required": ["name", "kind", "interval_days"],
        "properties": {
            "name": _text("Nama", "Name", 2, 200),
            "kind": _choice("Jenis", "Kind", TOOL_WORDS),
            "site": SITE,
            "interval_days": {
                "type": "integer",
                "title": "Verifikasi setiap (hari)",
                "minimum": 1,
                "maximum": 1095,
                "x-mutu": {"title_en": "Verified every (days)"},
            },
            "verified_on": _date("Terakhir diverifikasi", "Last verified on"),
        },
    },
    "verification": {
        "type": "object",
        "title": "Catat verifikasi alat",
        "x-mutu": {"title_en": "Record a tool verification"},
        "required": ["verified_on", "note"],
        "properties": {
            "verified_on": _date("Diverifikasi", "Verified on"),
            "note": _text("Hasil verifikasi", "Result of the verification", 3, 2000, widget="textarea"),
        },
    },
    "requirement": {
        "type": "object",
        "title": "Catat persyaratan",
        "x-mutu": {"title_en": "Record a requirement"},
        "required": ["code", "source", "text"],
        "properties": {
            "code": _text("Kode (mis. pasal PKS)", "Code (such as the PKS clause)", 1, 80),
            "source": _choice("Sumber", "Source", SOURCE_WORDS),
            "service": SERVICE,
            "text": _text("Persyaratan", "Requirement", 3, 8000, widget="textarea"),
        },
    },
    "action_close": {
        "type": "object",
        "title": "Tutup permintaan tindakan korektif",
        "x-mutu": {"title_en": "Close the corrective action request"},
        "required": ["note"],
        "properties": {
            "note": _text("Tanggapan pemasok", "The supplier's response", 3, 4000, widget="textarea")
        },
    },
    "action_verify": {
        "type": "object",
        "title": "Verifikasi tindakan korektif",
        "x-mutu": {"title_en": "Verify the corrective action"},
        "required": ["effective", "note"],
        "properties": {
            "effective": {"type": "boolean", "title": "Efektif?", "x-mutu": {"title_en": "Effective?"}},
            "note": _text("Catatan verifikasi", "Verification note", 3, 4000, widget="textarea"),
        },
    },
}


def codes(text: str | None) -> list[str]:
    """Agent codes typed with spaces, commas or new lines, once each in the order typed."""
    raw = (text or "").replace(",", " ").split()
    return list(dict.fromkeys(c for c in raw if c.isdigit()))
