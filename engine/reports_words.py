"""The audit events' names in both languages, for the PDFs the engine writes."""

from __future__ import annotations

from .pdf_words import in_language

KINDS: dict[str, tuple[str, str]] = {
    "started": ("Dimulai", "Started"),
    "completed": ("Diselesaikan", "Completed"),
    "signed": ("Ditandatangani", "Signed"),
    "commented": ("Komentar", "Comment"),
    "evidence_added": ("Bukti ditambahkan", "Evidence added"),
    "assigned": ("Ditugaskan", "Assigned"),
    "claimed": ("Diambil", "Claimed"),
    "unclaimed": ("Dilepas", "Released"),
    "rerouted": ("Dialihkan", "Rerouted"),
    "timer_fired": ("Waktu tunggu berakhir", "Timer fired"),
    "timer_fired_now": ("Waktu tunggu diakhiri sekarang", "Timer fired now"),
    "timer_moved": ("Waktu tunggu dipindah", "Timer moved"),
    "due_changed": ("Tenggat diubah", "Due date changed"),
    "incident": ("Insiden", "Incident"),
    "retried": ("Dicoba lagi", "Retried"),
    "suspended": ("Ditangguhkan", "Suspended"),
    "resumed": ("Dilanjutkan", "Resumed"),
    "cancelled": ("Dibatalkan", "Cancelled"),
    "migrated": ("Dipindah ke versi lain", "Migrated"),
    "message_received": ("Pesan diterima", "Message received"),
    "message_sent": ("Pesan dikirim", "Message sent"),
    "instance_completed": ("Kasus selesai", "Case ended"),
    "trend_raised": ("Dicatat oleh aturan tren", "Raised by a trend rule"),
    "raised_from_communication": ("Dicatat dari keluhan klien", "Raised from a client complaint"),
    "linked": ("Ditautkan", "Linked"),
    "exported": ("Diekspor", "Exported"),
    "in_evidence_pack": ("Masuk paket bukti", "In an evidence pack"),
}


def kind_word(kind: str, lang: str) -> str:
    return in_language(KINDS.get(kind), lang, kind.replace("_", " "))
