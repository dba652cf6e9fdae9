// process.json edited as a form: the catalogue entry, numbering, who may start, personal-data
// roles and case fields. The draft check validates it the same way as the rest of the draft.
import { t } from './ui-words.js';

function row(label, control) {
  const wrap = document.createElement('label');
  wrap.className = 'fd-in';
  const span = document.createElement('span');
  span.textContent = label;
  wrap.append(span, control);
  return wrap;
}

function text(value, onInput, attrs = {}) {
  const box = document.createElement(attrs.long ? 'textarea' : 'input');
  box.value = value ?? '';
  if (attrs.name) box.name = attrs.name;
  box.addEventListener('input', () => onInput(box.value));
  return box;
}

function roleChecks(roles, chosen, onChange, name) {
  const box = document.createElement('span');
  box.className = 'checks';
  box.dataset.name = name;
  for (const [key, label] of Object.entries(roles)) {
    const l = document.createElement('label');
    const c = document.createElement('input');
    c.type = 'checkbox'; c.value = key; c.checked = chosen.includes(key);
    c.addEventListener('change', () => onChange([...box.querySelectorAll('input:checked')].map((i) => i.value)));
    l.append(c, ` ${label}`);
    box.append(l);
  }
  return box;
}

export function renderGlue(root, glue, roles, onChange) {
  root.innerHTML = '';
  const h = document.createElement('h3');
  h.textContent = t('glue');
  root.append(h);
  const set = (key, value) => {
    if (value === '' || (Array.isArray(value) && !value.length && key !== 'startable_by')) delete glue[key];
    else glue[key] = value;
    onChange();
  };
  const owner = document.createElement('select');
  owner.name = 'owner_role';
  for (const [key, label] of [['', t('none')], ...Object.entries(roles)]) {
    const o = document.createElement('option');
    o.value = key; o.textContent = label; o.selected = (glue.owner_role || '') === key;
    owner.append(o);
  }
  owner.addEventListener('change', () => set('owner_role', owner.value));
  root.append(
    row(t('glueName'), text(glue.name_en, (v) => set('name_en', v), { name: 'name_en' })),
    row(t('owner'), owner),
    row(t('objective'), text(glue.objective, (v) => set('objective', v), { long: true, name: 'objective' })),
    row(t('kpi'), text(glue.kpi_target, (v) => set('kpi_target', v), { name: 'kpi_target' })),
    row(t('clauses'), text((glue.clauses || []).join(', '), (v) => set('clauses', v.split(',').map((c) => c.trim()).filter(Boolean)), { name: 'clauses' })),
    row(t('numbering'), text(glue.number_format, (v) => set('number_format', v), { name: 'number_format' })),
    row(`${t('startable')} (${t('startableHint')})`, roleChecks(roles, glue.startable_by || [], (v) => set('startable_by', v), 'startable_by')),
    row(t('personalRoles'), roleChecks(roles, glue.personal_roles || ['qmr', 'quality_control', 'director', 'admin'], (v) => set('personal_roles', v), 'personal_roles'))
  );
  const fields = document.createElement('table');
  fields.className = 'fd-choices glue-fields';
  const head = document.createElement('tr');
  for (const w of [t('caseField'), t('dataName'), '']) { const th = document.createElement('th'); th.textContent = w; head.append(th); }
  fields.append(head);
  const entries = Object.entries(glue.case_fields || {});
  const write = () => {
    glue.case_fields = Object.fromEntries(entries.filter(([k]) => k));
    onChange();
  };
  entries.forEach((entry, i) => {
    const tr = document.createElement('tr');
    const key = text(entry[0], (v) => { entries[i][0] = v.trim(); write(); });
    const value = text(entry[1], (v) => { entries[i][1] = v.trim(); write(); });
    const drop = document.createElement('button');
    drop.type = 'button'; drop.className = 'small'; drop.textContent = '✕';
    drop.addEventListener('click', () => { entries.splice(i, 1); write(); renderGlue(root, glue, roles, onChange); });
    for (const c of [key, value, drop]) { const td = document.createElement('td'); td.append(c); tr.append(td); }
    fields.append(tr);
  });
  const add = document.createElement('button');
  add.type = 'button'; add.className = 'small'; add.textContent = `+ ${t('addCaseField')}`;
  add.addEventListener('click', () => { glue.case_fields = { ...(glue.case_fields || {}), '': '' }; renderGlue(root, glue, roles, onChange); });
  const caption = document.createElement('h4');
  caption.textContent = t('caseFields');
  root.append(caption, fields, add);
}
