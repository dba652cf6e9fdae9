// The editor's words in the page's language (bpmn-js and its panel speak English by default).
const ID = {
  'General': 'Umum', 'Name': 'Nama', 'ID': 'ID', 'Documentation': 'Dokumentasi',
  'Element documentation': 'Dokumentasi elemen', 'Process documentation': 'Dokumentasi proses',
  'Mutu': 'Mutu', 'Name (English)': 'Nama (Inggris)', 'Manual clauses (e.g. 8.7, 8.6)': 'Klausul manual (mis. 8.7, 8.6)',
  'Form': 'Formulir', 'Due (expression, e.g. "P3D")': 'Tenggat (ekspresi, mis. "P3D")',
  'Role(s), comma separated': 'Peran (pisahkan dengan koma)', 'Script (restricted Python)': 'Skrip (Python terbatas)',
  'Condition (restricted Python)': 'Kondisi (Python terbatas)', 'Decision (DMN decision id)': 'Keputusan (id keputusan DMN)',
  'Service operator': 'Operator layanan', 'Called by': 'Dipanggil oleh',
  'The step itself (same transaction)': 'Langkah itu sendiri (transaksi yang sama)',
  'A worker, retried with backoff (asynchronous)': 'Worker, diulang dengan jeda (asinkron)', 'Timer': 'Timer', 'Duration (wait this long)': 'Durasi (tunggu selama)',
  'Date (wait until)': 'Tanggal (tunggu sampai)', 'Cycle (repeat)': 'Siklus (berulang)',
  'Timer expression (quoted ISO 8601, e.g. "P30D")': 'Ekspresi timer (ISO 8601 berkutip, mis. "P30D")',
  'Message': 'Pesan', 'Signal': 'Sinyal', 'Error': 'Error', 'Escalation': 'Eskalasi', 'Multi-instance': 'Multi-instance',
  'Global message reference': 'Referensi pesan global', 'Create new ...': 'Buat baru ...', '<none>': '<tidak ada>',
  'Activate hand tool': 'Aktifkan alat geser', 'Activate lasso tool': 'Aktifkan alat laso',
  'Activate create/remove space tool': 'Aktifkan alat ruang', 'Activate global connect tool': 'Aktifkan alat sambung',
  'Create start event': 'Buat peristiwa mulai', 'Create intermediate/boundary event': 'Buat peristiwa antara/batas',
  'Create end event': 'Buat peristiwa akhir', 'Create gateway': 'Buat gateway', 'Create task': 'Buat tugas',
  'Create expanded sub-process': 'Buat subproses', 'Create pool/participant': 'Buat pool/peserta',
  'Create data object reference': 'Buat referensi objek data', 'Delete': 'Hapus', 'Change element': 'Ubah elemen',
  'Connect to other element': 'Sambungkan ke elemen lain', 'Append task': 'Tambah tugas',
  'Append end event': 'Tambah peristiwa akhir', 'Append gateway': 'Tambah gateway',
  'Append intermediate/boundary event': 'Tambah peristiwa antara/batas', 'Add text annotation': 'Tambah anotasi teks',
  'Add lane above': 'Tambah lajur di atas', 'Add lane below': 'Tambah lajur di bawah',
  'Divide into two lanes': 'Bagi menjadi dua lajur', 'Divide into three lanes': 'Bagi menjadi tiga lajur',
  'Sequence flow': 'Alur urutan', 'User task': 'Tugas pengguna', 'Script task': 'Tugas skrip', 'Service task': 'Tugas layanan',
  'Business rule task': 'Tugas aturan bisnis', 'Exclusive gateway': 'Gateway eksklusif', 'Parallel gateway': 'Gateway paralel',
  'Start event': 'Peristiwa mulai', 'End event': 'Peristiwa akhir', 'Lane': 'Lajur', 'Participant': 'Peserta',
  'Timer intermediate catch event': 'Peristiwa timer antara', 'Process': 'Proses', 'Section contains edits': 'Bagian berisi perubahan',
  'Toggle section': 'Buka/tutup bagian', 'Documentation (English)': 'Dokumentasi (Inggris)',
  'New form (name), then pick it above': 'Formulir baru (nama), lalu pilih di atas'
};

export function translateModule(lang) {
  function translate(template, replacements) {
    const words = lang === 'en' ? template : (ID[template] || template);
    return words.replace(/{([^}]+)}/g, (_, key) => (replacements && replacements[key] !== undefined ? replacements[key] : `{${key}}`));
  }
  return { translate: ['value', translate] };
}
