"""The words of the PDFs Mutu writes, in both languages (the engine has no Flask-Babel)."""

from __future__ import annotations

WORDS: dict[str, tuple[str, str]] = {
    "pack_title": ("Paket bukti monitoring layanan", "Service monitoring evidence pack"),
    "case_title": ("Rekaman lengkap kasus", "Complete case record"),
    "period": ("Periode", "Period"),
    "site": ("Lokasi", "Site"),
    "service": ("Layanan", "Service"),
    "all": ("semua", "all"),
    "made_at": ("Dibuat", "Made"),
    "made_by": ("oleh", "by"),
    "pass_rates": ("Tingkat kelulusan per metode", "Pass rates by method"),
    "method": ("Metode", "Method"),
    "checks": ("Pemeriksaan", "Checks"),
    "passed": ("Lulus", "Passed"),
    "percent": ("%", "%"),
    "checks_title": (
        "Pemeriksaan: siapa yang melayani dan siapa yang memeriksa",
        "Checks: who served and who checked",
    ),
    "agent": ("Agen", "Agent"),
    "online_name": ("Nama online", "Online name"),
    "score": ("Skor", "Score"),
    "result": ("Hasil", "Result"),
    "checked_by": ("Diperiksa oleh", "Checked by"),
    "date": ("Tanggal", "Date"),
    "yes": ("lulus", "passed"),
    "no": ("tidak lulus", "failed"),
    "ncs": ("Ketidaksesuaian yang dicatat", "Nonconformities raised"),
    "number": ("Nomor", "Number"),
    "severity": ("Tingkat", "Severity"),
    "status": ("Status", "Status"),
    "summary": ("Uraian", "Description"),
    "signatures": ("Tanda tangan elektronik", "Electronic signatures"),
    "meaning": ("Makna", "Meaning"),
    "signer": ("Penanda tangan", "Signed by"),
    "data_hash": ("Sidik data (SHA-256)", "Data fingerprint (SHA-256)"),
    "files": ("Berkas bukti", "Evidence files"),
    "file": ("Berkas", "File"),
    "none": ("Tidak ada.", "None."),
    "page": ("Halaman", "Page"),
    "history": ("Riwayat", "History"),
    "event": ("Kejadian", "Event"),
    "who": ("Oleh", "By"),
    "data": ("Data kasus", "Case data"),
    "field": ("Isian", "Field"),
    "value": ("Nilai", "Value"),
    "diagram": ("Diagram dan jalur yang ditempuh", "Diagram and the path taken"),
    "legend": ("Hijau: sudah dijalankan; biru: sedang menunggu.", "Green: has run; blue: waits now."),
    "process": ("Proses", "Process"),
    "started": ("Dimulai", "Started"),
    "ended": ("Selesai", "Ended"),
    "chain": ("Rantai audit", "Audit chain"),
    "chain_ok": (
        "utuh: setiap kejadian memuat hash kejadian sebelumnya",
        "intact: every event carries the hash of the one before",
    ),
    "chain_broken": ("RUSAK", "BROKEN"),
    "size": ("Ukuran", "Size"),
    "tapping": ("Tapping", "Tapping"),
    "mystery_shopping": ("Mystery shopping", "Mystery shopping"),
    "propper_test": ("Propper test", "Propper test"),
    "individual": ("Evaluasi individu", "Individual evaluation"),
}


def in_language(pair: tuple[str, str] | None, lang: str, fallback: str) -> str:
    if pair is None:
        return fallback
    return pair[1] if lang == "en" else pair[0]


def word(key: str, lang: str) -> str:
    return in_language(WORDS.get(key), lang, key)
