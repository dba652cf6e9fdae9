"""The confidentiality statement (manual 8.5.3) everyone accepts before seeing case data."""

from __future__ import annotations

# A new text gets a new version, so everyone accepts it again.
STATEMENT_VERSION = "2026-1"
STATEMENT = {
    "id": (
        "Saya memahami bahwa data pelanggan, rekaman panggilan, hasil evaluasi agen dan catatan mutu "
        "yang saya lihat di Mutu bersifat rahasia. Saya hanya akan menggunakannya untuk pekerjaan "
        "mutu yang ditugaskan kepada saya, tidak akan menyalin, membagikan atau membawanya keluar "
        "dari sistem, dan akan segera melaporkan kepada QMR bila mengetahui kebocoran data "
        "(Manual Mutu 8.5.3)."
    ),
    "en": (
        "I understand that the customer data, call recordings, agent evaluations and quality "
        "records I see in Mutu are confidential. I will use them only for the quality work assigned "
        "to me, will not copy, share or take them out of the system, and will report any data leak "
        "to the QMR at once (Quality Manual 8.5.3)."
    ),
}
