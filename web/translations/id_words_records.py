"""Indonesian words of the records side: signatures, the audit chain, registers, reports, packs."""

RECORD_WORDS = {
    "approved": "disetujui",
    "verified effective": "diverifikasi efektif",
    "accepted": "diterima",
    "decided": "diputuskan",
    "reviewed": "ditinjau",
    "released": "dirilis",
    "By completing this step I, %(name)s, sign it as %(meaning)s. Enter your password to sign.": "Dengan menyelesaikan langkah ini saya, %(name)s, menandatanganinya sebagai %(meaning)s. Masukkan kata sandi Anda untuk menandatangani.",
    "The password is wrong: the step was neither signed nor completed.": "Kata sandi salah: langkah ini tidak ditandatangani dan tidak diselesaikan.",
    "Enter your password to sign this step.": "Masukkan kata sandi Anda untuk menandatangani langkah ini.",
    "signed as %(meaning)s: %(who)s": "menandatangani sebagai %(meaning)s: %(who)s",
    "Electronic signature": "Tanda tangan elektronik",
    "Fingerprint of the signed data (SHA-256)": "Sidik data yang ditandatangani (SHA-256)",
    "added a comment": "menambahkan komentar",
    "added the evidence file %(name)s": "menambahkan berkas bukti %(name)s",
    "exported the case record": "mengekspor catatan kasus",
    "included in an evidence pack": "dimasukkan ke paket bukti",
}
