// An ISO 8601 timer expression in words, in the page's language: "30 hari setelah ...".
const UNITS = {
  id: { Y: 'tahun', M: 'bulan', W: 'minggu', D: 'hari', H: 'jam', m: 'menit', S: 'detik' },
  en: { Y: 'year', M: 'month', W: 'week', D: 'day', H: 'hour', m: 'minute', S: 'second' }
};
const AFTER = {
  id: { due: 'tenggat %s setelah tugas muncul', timeDuration: '%s setelah mulai menunggu', timeCycle: 'setiap %s', timeDate: 'pada %s' },
  en: { due: 'due %s after the task appears', timeDuration: '%s after it starts waiting', timeCycle: 'every %s', timeDate: 'on %s' }
};

function parts(duration, lang) {
  const m = /^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/.exec(duration);
  if (!m) return null;
  const keys = ['Y', 'M', 'W', 'D', 'H', 'm', 'S'];
  const words = [];
  keys.forEach((k, i) => {
    const n = m[i + 1];
    if (n) words.push(`${n} ${UNITS[lang][k]}${lang === 'en' && n !== '1' ? 's' : ''}`);
  });
  return words.length ? words.join(' ') : null;
}

export function durationInWords(expression, lang, kind) {
  lang = lang === 'en' ? 'en' : 'id';
  const text = (expression || '').trim();
  if (!text) return '';
  const quoted = /^["'](.*)["']$/.exec(text);
  if (!quoted) {
    if (/^(R\d*\/)?P[0-9YMWDTHS]+$/i.test(text)) {
      return lang === 'en' ? `Put it in quotes: "${text}"` : `Beri tanda kutip: "${text}"`;
    }
    return lang === 'en' ? 'Computed when the case gets here' : 'Dihitung saat kasus sampai di sini';
  }
  let value = quoted[1];
  const template = AFTER[lang][kind] || AFTER[lang].timeDuration;
  if (kind === 'timeDate') return template.replace('%s', value);
  let times = '';
  const cycle = /^R(\d*)\/(.*)$/.exec(value);
  if (cycle) {
    value = cycle[2].split('/').pop();
    if (cycle[1]) times = lang === 'en' ? `, ${cycle[1]} times` : `, ${cycle[1]} kali`;
  }
  const words = parts(value, lang);
  if (!words) return lang === 'en' ? `"${value}" is not an ISO 8601 duration` : `"${value}" bukan durasi ISO 8601`;
  return template.replace('%s', words) + times;
}
