// The editor's own words in both languages; the page's language picks one, so no page mixes them.
const WORDS = {
  id: {
    fields: 'Kolom', addField: 'Tambah kolom', newField: 'Kolom baru', removeField: 'Hapus kolom',
    moveUp: 'Naikkan', moveDown: 'Turunkan', fieldName: 'Nama (kunci data)', labelId: 'Label (Indonesia)',
    labelEn: 'Label (Inggris)', helpId: 'Bantuan (Indonesia)', helpEn: 'Bantuan (Inggris)', kind: 'Jenis',
    required: 'Wajib', personal: 'Data pribadi', minLength: 'Panjang minimum', maxLength: 'Panjang maksimum',
    pattern: 'Pola (regex)', minimum: 'Minimum', maximum: 'Maksimum', default: 'Nilai awal', choices: 'Pilihan',
    value: 'Nilai', addChoice: 'Tambah pilihan', removeChoice: 'Hapus pilihan', rowFields: 'Kolom setiap baris',
    formTitleId: 'Judul formulir (Indonesia)', formTitleEn: 'Judul formulir (Inggris)', preview: 'Pratinjau',
    previewLanguage: 'Bahasa pratinjau', fieldNameBad: '"{name}" bukan nama kolom yang sah atau sudah dipakai',
    renamedUsed: 'Kolom {name} diganti namanya, tetapi masih dipakai oleh:',
    removedUsed: 'Kolom {name} dihapus, tetapi masih dipakai oleh:',
    kind_text: 'teks', kind_textarea: 'teks panjang', kind_choice: 'pilihan', kind_choices: 'beberapa pilihan',
    kind_integer: 'bilangan bulat', kind_number: 'desimal', kind_date: 'tanggal', kind_boolean: 'ya/tidak',
    kind_lines: 'daftar baris', kind_rows: 'baris berulang', kind_files: 'berkas bukti',
    newForm: 'Formulir baru', newFormName: 'Nama berkas formulir baru (tanpa .json)', renameForm: 'Ganti nama formulir',
    deleteForm: 'Hapus formulir', formUsedBy: 'Formulir ini dipakai oleh tugas {tasks}; tidak dapat dihapus.',
    renameFormTo: 'Nama baru formulir (tanpa .json)', forms: 'Formulir', glue: 'Pengaturan proses',
    glueName: 'Nama proses (Inggris)', owner: 'Pemilik proses (peran)', objective: 'Sasaran', kpi: 'Target KPI',
    clauses: 'Klausul manual (pisahkan dengan koma)', numbering: 'Format nomor kasus', startable: 'Yang boleh memulai', startableHint: 'tanpa centang: semua pengguna',
    personalRoles: 'Peran yang melihat data pribadi', caseFields: 'Kolom kasus', caseField: 'Kolom kasus', dataName: 'Nama data',
    addCaseField: 'Tambah kolom kasus', none: '(tidak ada)',
    scenarios: 'Skenario', runAll: 'Jalankan semua', record: 'Rekam skenario', passed: 'lolos', failed: 'gagal',
    noScenarios: 'Belum ada skenario.', running: 'Menjalankan skenario…', scenarioName: 'Nama skenario',
    scenarioNameEn: 'Nama skenario (Inggris)', saveScenario: 'Simpan skenario', cancel: 'Batal', start: 'Mulai',
    startForm: 'Formulir awal', openTasks: 'Tugas terbuka', timers: 'Menunggu timer', skipTime: 'Lewati waktu',
    complete: 'Selesaikan', ended: 'Kasus selesai: {status}', stepN: 'Langkah {n}', expected: 'diharapkan',
    found: 'ternyata', removeScenario: 'Hapus skenario', scenarioNote: 'Catatan: mengapa skenario ini diubah atau dihapus',
    saved: 'Skenario tersimpan', sandboxNote: 'Kotak pasir: tidak ada kasus, nomor, register, jejak audit atau kotak masuk nyata yang tersentuh.',
    recording: 'Merekam', chooseTask: 'Pilih tugas', caseData: 'Data kasus', incident: 'Insiden'
  },
  en: {
    fields: 'Fields', addField: 'Add a field', newField: 'New field', removeField: 'Remove the field',
    moveUp: 'Move up', moveDown: 'Move down', fieldName: 'Name (data key)', labelId: 'Label (Indonesian)',
    labelEn: 'Label (English)', helpId: 'Help (Indonesian)', helpEn: 'Help (English)', kind: 'Kind',
    required: 'Required', personal: 'Personal data', minLength: 'Minimum length', maxLength: 'Maximum length',
    pattern: 'Pattern (regex)', minimum: 'Minimum', maximum: 'Maximum', default: 'Default', choices: 'Choices',
    value: 'Value', addChoice: 'Add a choice', removeChoice: 'Remove the choice', rowFields: 'Fields of each row',
    formTitleId: 'Form title (Indonesian)', formTitleEn: 'Form title (English)', preview: 'Preview',
    previewLanguage: 'Preview language', fieldNameBad: '"{name}" is not a valid field name or is taken',
    renamedUsed: 'Field {name} was renamed but is still used by:',
    removedUsed: 'Field {name} was removed but is still used by:',
    kind_text: 'text', kind_textarea: 'long text', kind_choice: 'choice', kind_choices: 'several choices',
    kind_integer: 'integer', kind_number: 'decimal', kind_date: 'date', kind_boolean: 'yes/no',
    kind_lines: 'list of lines', kind_rows: 'repeating rows', kind_files: 'evidence files',
    newForm: 'New form', newFormName: 'File name of the new form (without .json)', renameForm: 'Rename the form',
    deleteForm: 'Delete the form', formUsedBy: 'Tasks {tasks} use this form; it cannot be deleted.',
    renameFormTo: 'New name of the form (without .json)', forms: 'Forms', glue: 'Process settings',
    glueName: 'Process name (English)', owner: 'Process owner (role)', objective: 'Objective', kpi: 'KPI target',
    clauses: 'Manual clauses (comma separated)', numbering: 'Case number format', startable: 'Who may start', startableHint: 'none ticked: anyone',
    personalRoles: 'Roles that see personal data', caseFields: 'Case fields', caseField: 'Case field', dataName: 'Data name',
    addCaseField: 'Add a case field', none: '(none)',
    scenarios: 'Scenarios', runAll: 'Run all', record: 'Record a scenario', passed: 'passed', failed: 'failed',
    noScenarios: 'No scenarios yet.', running: 'Running the scenarios…', scenarioName: 'Scenario name (Indonesian)',
    scenarioNameEn: 'Scenario name (English)', saveScenario: 'Save the scenario', cancel: 'Cancel', start: 'Start',
    startForm: 'Start form', openTasks: 'Open tasks', timers: 'Waiting for timers', skipTime: 'Skip time',
    complete: 'Complete', ended: 'The case ended: {status}', stepN: 'Step {n}', expected: 'expected',
    found: 'found', removeScenario: 'Remove the scenario', scenarioNote: 'Note: why this scenario was changed or removed',
    saved: 'Scenario saved', sandboxNote: 'Sandbox: no real case, number, register, audit trail or inbox is touched.',
    recording: 'Recording', chooseTask: 'Choose a task', caseData: 'Case data', incident: 'Incident'
  }
};
const LANG = document.documentElement.lang === 'en' ? 'en' : 'id';

export function t(key, params = {}) {
  const text = WORDS[LANG][key] ?? WORDS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_m, k) => String(params[k] ?? ''));
}

// The engine words a scenario's difference in English; an Indonesian page says it in Indonesian.
const STATUS_ID = { running: 'berjalan', completed: 'selesai', cancelled: 'dibatalkan', incident: 'insiden', suspended: 'ditangguhkan' };
const PATTERNS_ID = [
  [/^task (\S+) open$/, (m) => `tugas ${m[1]} terbuka`],
  [/^open: nothing$/, () => 'tidak ada tugas terbuka'],
  [/^open: (.+); waiting for timer: (.+)$/, (m) => `terbuka: ${m[1]}; menunggu timer: ${m[2]}`],
  [/^open: (.+)$/, (m) => `terbuka: ${m[1]}`],
  [/^waiting for timer: (.+)$/, (m) => `menunggu timer: ${m[1]}`],
  [/^waiting for: no timer$/, () => 'tidak menunggu timer'],
  [/^waiting for: (.+)$/, (m) => `menunggu: ${m[1]}`],
  [/^the case is (\w+)$/, (m) => `kasus ${STATUS_ID[m[1]] || m[1]}`],
  [/^ended at no end event$/, () => 'tidak berakhir di peristiwa akhir'],
  [/^ended at (.+)$/, (m) => `berakhir di ${m[1]}`],
  [/^case field (\S+) = (.+)$/, (m) => `kolom kasus ${m[1]} = ${m[2]}`],
  [/^(\S+) due (\S+)$/, (m) => `${m[1]} jatuh tempo ${m[2]}`],
  [/^(\d+) (\S+) case\(s\) started$/, (m) => `${m[1]} kasus ${m[2]} dimulai`],
  [/^(\d+) started$/, (m) => `${m[1]} dimulai`],
  [/^the form accepts the data$/, () => 'formulir menerima datanya'],
  [/^the start form accepts the start data$/, () => 'formulir awal menerima data awal'],
  [/^the form refuses: (.+)$/, (m) => `formulir menolak: ${m[1]}`],
  [/^the form accepted it$/, () => 'formulir menerimanya'],
  [/^the step runs without an incident$/, () => 'langkah berjalan tanpa insiden'],
  [/^an incident at (\S+): (.+)$/, (m) => `insiden di ${m[1]}: ${m[2]}`],
  [/^the case starts$/, () => 'kasus dimulai'],
  [/^a valid scenario file$/, () => 'berkas skenario yang sah'],
  [/^timer (\S+) waiting$/, (m) => `timer ${m[1]} menunggu`],
  [/^form data is not valid: (.+)$/, (m) => `data formulir tidak valid: ${m[1]}`],
  [/^(\d+) scenario problem\(s\) stop the publish$/, (m) => `${m[1]} masalah skenario menghentikan penerbitan`],
  [/^this scenario was (removed|changed): say why in a note$/, (m) => `skenario ini ${m[1] === 'removed' ? 'dihapus' : 'diubah'}: tulis alasannya dalam catatan`],
  [/^the draft has (\d+) error\(s\)$/, (m) => `draf memiliki ${m[1]} kesalahan`],
  [/^acknowledge (\d+) warning\(s\) to publish$/, (m) => `tandai ${m[1]} peringatan sudah dibaca untuk menerbitkan`],
  [/^field '([^']+)' was removed or renamed but is still used by: (.+)$/, (m) => `kolom ${m[1]} dihapus atau diganti namanya tetapi masih dipakai oleh: ${m[2]}`],
  [/^field '([^']+)' has no English label$/, (m) => `kolom ${m[1]} belum punya label bahasa Inggris`],
  [/^choice\(s\) without English words: (.+)$/, (m) => `pilihan tanpa kata bahasa Inggris: ${m[1]}`]
];

export function engineWords(text) {
  if (LANG === 'en' || !text) return text;
  const scenario = /^scenario '(.+)' fails at step (\d+): expected (.+), found (.+)$/.exec(text);
  if (scenario) return `skenario '${scenario[1]}' gagal pada langkah ${scenario[2]}: diharapkan ${engineWords(scenario[3])}, ternyata ${engineWords(scenario[4])}`;
  for (const [re, fn] of PATTERNS_ID) { const m = re.exec(text); if (m) return fn(m); }
  return text;
}
