// The form designer: a draft's JSON Schema form edited field by field, with a live preview drawn
// by the server's task-page renderer and a raw JSON Schema view checked as it is typed.
import { t } from './ui-words.js';

export const KINDS = ['text', 'textarea', 'choice', 'choices', 'integer', 'number', 'date', 'boolean', 'lines', 'rows', 'files'];

const mutu = (spec) => (spec['x-mutu'] = spec['x-mutu'] || {});

export function kindOf(spec) {
  const m = spec['x-mutu'] || {};
  if (['rows', 'files', 'textarea'].includes(m.widget)) return m.widget;
  if (spec.type === 'boolean') return 'boolean';
  if (spec.enum) return 'choice';
  if (spec.type === 'integer' || spec.type === 'number') return spec.type;
  if (spec.type === 'string' && spec.format === 'date') return 'date';
  if (spec.type === 'array') {
    const item = spec.items || {};
    if (item.type === 'object') return 'rows';
    return item.enum ? 'choices' : 'lines';
  }
  return 'text';
}

// The schema a kind needs, keeping the words (labels, help, personal) the field already had.
export function withKind(spec, kind) {
  const keep = { title: spec.title, 'x-mutu': { ...(spec['x-mutu'] || {}) } };
  delete keep['x-mutu'].widget;
  const choices = spec.enum || spec.items?.enum || ['a'];
  const shapes = {
    text: { type: 'string' },
    textarea: { type: 'string', 'x-mutu': { widget: 'textarea' } },
    choice: { type: 'string', enum: choices },
    choices: { type: 'array', uniqueItems: true, items: { type: 'string', enum: choices } },
    integer: { type: 'integer' },
    number: { type: 'number' },
    date: { type: 'string', format: 'date' },
    boolean: { type: 'boolean' },
    lines: { type: 'array', items: { type: 'string', minLength: 1 } },
    rows: { type: 'array', items: spec.items?.type === 'object' ? spec.items : { type: 'object', properties: {}, required: [] }, 'x-mutu': { widget: 'rows' } },
    files: { type: 'array', items: { type: 'string' }, 'x-mutu': { widget: 'files' } }
  };
  const shape = shapes[kind];
  const out = { ...shape, ...keep, 'x-mutu': { ...keep['x-mutu'], ...(shape['x-mutu'] || {}) } };
  if (!['choice', 'choices'].includes(kind)) { delete out['x-mutu'].enum_labels; delete out['x-mutu'].enum_labels_en; }
  if (!Object.keys(out['x-mutu']).length) delete out['x-mutu'];
  if (out.title === undefined) delete out.title;
  return out;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'on') Object.entries(v).forEach(([ev, fn]) => node.addEventListener(ev, fn));
    else if (k === 'checked' || k === 'disabled' || k === 'hidden') node[k] = !!v;
    else if (v !== undefined && v !== null) node.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c.nodeType ? c : document.createTextNode(String(c)));
  return node;
}

function input(label, value, onInput, attrs = {}) {
  const id = `fd-${Math.random().toString(36).slice(2, 9)}`;
  const box = el('input', { id, value: value ?? '', ...attrs, on: { input: (e) => onInput(e.target.value), change: attrs.onchange || (() => {}) } });
  return el('label', { class: 'fd-in', for: id }, el('span', {}, label), box);
}

function checkbox(label, checked, onChange) {
  return el('label', { class: 'fd-check' }, el('input', { type: 'checkbox', checked, on: { change: (e) => onChange(e.target.checked) } }), ` ${label}`);
}

const num = (v) => (v === '' || v === undefined ? undefined : Number(v));

// One list of fields (a form's, or a repeating row's): cards that reorder by mouse and keyboard.
class FieldList {
  constructor(designer, schema, path) {
    this.d = designer; this.schema = schema; this.path = path;
    schema.properties = schema.properties || {};
    schema.required = schema.required || [];
  }

  names() { return Object.keys(this.schema.properties); }

  reorder(names) {
    const props = this.schema.properties;
    this.schema.properties = Object.fromEntries(names.map((n) => [n, props[n]]));
    this.d.changed(true);
  }

  move(name, by) {
    const names = this.names();
    const i = names.indexOf(name), j = i + by;
    if (j < 0 || j >= names.length) return;
    [names[i], names[j]] = [names[j], names[i]];
    this.reorder(names);
    this.d.focusField = `${this.path}${name}`;
  }

  async rename(old, name) {
    if (!name || name === old) return;
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) || this.schema.properties[name]) {
      this.d.warn([t('fieldNameBad', { name })]);
      this.d.changed(true);
      return;
    }
    this.schema.properties = Object.fromEntries(Object.entries(this.schema.properties).map(([k, v]) => [k === old ? name : k, v]));
    this.schema.required = this.schema.required.map((r) => (r === old ? name : r));
    if (this.d.open.delete(`${this.path}${old}`)) this.d.open.add(`${this.path}${name}`);
    await this.d.warnUses(old, 'renamed');
    this.d.focusField = `${this.path}${name}`;
    this.d.changed(true);
  }

  async remove(name) {
    delete this.schema.properties[name];
    this.schema.required = this.schema.required.filter((r) => r !== name);
    await this.d.warnUses(name, 'removed');
    this.d.changed(true);
  }

  add() {
    let n = 1;
    while (this.schema.properties[`field_${n}`]) n += 1;
    const name = `field_${n}`;
    this.schema.properties[name] = { type: 'string', title: 'Kolom baru', 'x-mutu': { title_en: 'New field' } };
    this.d.open.add(`${this.path}${name}`);
    this.d.focusField = `${this.path}${name}`;
    this.d.changed(true);
  }

  render() {
    const list = el('ol', { class: 'fd-fields', 'aria-label': t('fields') });
    let dragged = null;
    for (const name of this.names()) {
      const spec = this.schema.properties[name];
      const key = `${this.path}${name}`;
      const required = this.schema.required.includes(name);
      const card = el('li', { class: 'fd-field', draggable: 'true', tabindex: '0', 'data-name': name, 'aria-label': `${name}: ${spec.title || ''}` });
      card.addEventListener('dragstart', (e) => { dragged = name; e.dataTransfer.effectAllowed = 'move'; e.stopPropagation(); });
      card.addEventListener('dragover', (e) => { if (dragged) { e.preventDefault(); e.stopPropagation(); card.classList.add('fd-over'); } });
      card.addEventListener('dragleave', () => card.classList.remove('fd-over'));
      card.addEventListener('drop', (e) => {
        e.preventDefault(); e.stopPropagation();
        if (!dragged || dragged === name) return;
        const names = this.names().filter((n) => n !== dragged);
        names.splice(names.indexOf(name), 0, dragged);
        dragged = null;
        this.reorder(names);
      });
      card.addEventListener('keydown', (e) => {
        if (e.target !== card) return;
        if (e.altKey && e.key === 'ArrowUp') { e.preventDefault(); this.move(name, -1); }
        if (e.altKey && e.key === 'ArrowDown') { e.preventDefault(); this.move(name, 1); }
        if (e.key === 'Enter') { e.preventDefault(); this.d.toggle(key); }
      });
      const head = el('div', { class: 'fd-head' },
        el('span', { class: 'fd-grip', 'aria-hidden': 'true' }, '⠿'),
        el('button', { type: 'button', class: 'link fd-name', on: { click: () => this.d.toggle(key) } }, name),
        el('span', { class: 'fd-label' }, spec.title || ''),
        el('span', { class: 'tag' }, t(`kind_${kindOf(spec)}`)),
        required ? el('span', { class: 'req', title: t('required') }, '*') : null,
        el('button', { type: 'button', class: 'small', 'aria-label': t('moveUp'), on: { click: () => this.move(name, -1) } }, '↑'),
        el('button', { type: 'button', class: 'small', 'aria-label': t('moveDown'), on: { click: () => this.move(name, 1) } }, '↓'),
        el('button', { type: 'button', class: 'small danger', 'aria-label': t('removeField'), on: { click: () => this.remove(name) } }, '✕'));
      card.append(head);
      if (this.d.open.has(key)) card.append(this.details(name, spec, required));
      list.append(card);
    }
    const wrap = el('div', { class: 'fd-list' }, list,
      el('button', { type: 'button', class: 'small fd-add', on: { click: () => this.add() } }, `+ ${t('addField')}`));
    return wrap;
  }

  details(name, spec, required) {
    const m = spec['x-mutu'] || {};
    const set = (fn, redraw = false) => { fn(); this.d.changed(redraw); };
    const kind = kindOf(spec);
    const box = el('div', { class: 'fd-details' });
    box.append(
      input(t('fieldName'), name, () => {}, { class: 'fd-key', onchange: (e) => this.rename(name, e.target.value.trim()) }),
      input(t('labelId'), spec.title, (v) => set(() => { spec.title = v; })),
      input(t('labelEn'), m.title_en, (v) => set(() => { mutu(spec).title_en = v; })),
      input(t('helpId'), m.help, (v) => set(() => { if (v) mutu(spec).help = v; else delete mutu(spec).help; })),
      input(t('helpEn'), m.help_en, (v) => set(() => { if (v) mutu(spec).help_en = v; else delete mutu(spec).help_en; }))
    );
    const kinds = el('select', { class: 'fd-kind', on: { change: (e) => {
      this.schema.properties[name] = withKind(spec, e.target.value);
      this.d.changed(true);
    } } }, KINDS.map((k) => el('option', { value: k, ...(k === kind ? { selected: 'selected' } : {}) }, t(`kind_${k}`))));
    box.append(el('label', { class: 'fd-in' }, el('span', {}, t('kind')), kinds));
    box.append(checkbox(t('required'), required, (on) => set(() => {
      this.schema.required = on ? [...new Set([...this.schema.required, name])] : this.schema.required.filter((r) => r !== name);
    }, true)));
    box.append(checkbox(t('personal'), !!m.personal, (on) => set(() => { if (on) mutu(spec).personal = true; else delete mutu(spec).personal; })));
    if (['text', 'textarea'].includes(kind)) {
      box.append(
        input(t('minLength'), spec.minLength, (v) => set(() => { spec.minLength = num(v); }), { inputmode: 'numeric', class: 'fd-min-length' }),
        input(t('maxLength'), spec.maxLength, (v) => set(() => { spec.maxLength = num(v); }), { inputmode: 'numeric' }),
        input(t('pattern'), spec.pattern, (v) => set(() => { spec.pattern = v || undefined; }))
      );
    }
    if (['integer', 'number'].includes(kind)) {
      box.append(
        input(t('minimum'), spec.minimum, (v) => set(() => { spec.minimum = num(v); }), { inputmode: 'decimal' }),
        input(t('maximum'), spec.maximum, (v) => set(() => { spec.maximum = num(v); }), { inputmode: 'decimal' })
      );
    }
    if (!['rows', 'files', 'choices', 'lines'].includes(kind)) {
      box.append(input(t('default'), spec.default === undefined ? '' : String(spec.default), (v) => set(() => {
        if (v === '') delete spec.default;
        else if (kind === 'integer' || kind === 'number') spec.default = Number(v);
        else if (kind === 'boolean') spec.default = v === 'true';
        else spec.default = v;
      })));
    }
    if (kind === 'choice' || kind === 'choices') box.append(this.choices(spec, kind));
    if (kind === 'rows') {
      box.append(el('h4', {}, t('rowFields')), new FieldList(this.d, spec.items, `${this.path}${name}.`).render());
    }
    return box;
  }

  choices(spec, kind) {
    const holder = kind === 'choices' ? spec.items : spec;
    const m = mutu(spec);
    m.enum_labels = m.enum_labels || {};
    m.enum_labels_en = m.enum_labels_en || {};
    const table = el('table', { class: 'fd-choices' },
      el('thead', {}, el('tr', {}, el('th', {}, t('value')), el('th', {}, t('labelId')), el('th', {}, t('labelEn')), el('th', {}))));
    const body = el('tbody');
    holder.enum.forEach((value, i) => {
      const rename = (v) => {
        holder.enum[i] = v;
        for (const labels of [m.enum_labels, m.enum_labels_en]) { if (value in labels) { labels[v] = labels[value]; delete labels[value]; } }
        this.d.changed(true);
      };
      body.append(el('tr', {},
        el('td', {}, el('input', { value, 'aria-label': t('value'), on: { change: (e) => rename(e.target.value) } })),
        el('td', {}, el('input', { value: m.enum_labels[value] || '', 'aria-label': t('labelId'), on: { input: (e) => { m.enum_labels[value] = e.target.value; this.d.changed(false); } } })),
        el('td', {}, el('input', { value: m.enum_labels_en[value] || '', 'aria-label': t('labelEn'), class: 'fd-choice-en', on: { input: (e) => { m.enum_labels_en[value] = e.target.value; this.d.changed(false); } } })),
        el('td', {}, el('button', { type: 'button', class: 'small', 'aria-label': t('removeChoice'), on: { click: () => {
          holder.enum.splice(i, 1); delete m.enum_labels[value]; delete m.enum_labels_en[value]; this.d.changed(true);
        } } }, '✕'))));
    });
    table.append(body);
    return el('div', { class: 'fd-choice-box' }, el('h4', {}, t('choices')), table,
      el('button', { type: 'button', class: 'small', on: { click: () => {
        let n = holder.enum.length + 1;
        while (holder.enum.includes(`pilihan_${n}`)) n += 1;
        holder.enum.push(`pilihan_${n}`); this.d.changed(true);
      } } }, `+ ${t('addChoice')}`));
  }
}

export class FormDesigner {
  constructor({ root, api, draftId, lang, onChange, formFile, key }) {
    Object.assign(this, { root, api, draftId, lang, onChange, formFile, key });
    this.open = new Set(); this.previewLang = lang; this.view = 'fields'; this.warnings = [];
    this.schema = { type: 'object', properties: {} };
  }

  load(text, formFile) {
    this.formFile = formFile;
    try { this.schema = JSON.parse(text); this.bad = null; } catch (e) { this.schema = { type: 'object', properties: {} }; this.bad = e.message; }
    this.warnings = [];
    this.render();
    this.preview();
  }

  text() { return JSON.stringify(this.schema, null, 2) + '\n'; }

  toggle(key) { if (this.open.has(key)) this.open.delete(key); else this.open.add(key); this.focusField = key; this.render(); }

  changed(redraw) {
    this.onChange(this.text());
    if (redraw) this.render();
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.preview(), 250);
  }

  warn(lines) { this.warnings = lines; this.renderWarnings(); }

  async warnUses(name, what) {
    try {
      const out = await this.api('GET', `/drafts/${this.draftId}/uses?name=${encodeURIComponent(name)}&form=${encodeURIComponent(`workflows/${this.key}/forms/${this.formFile}`)}`);
      if (out.uses.length) this.warn([t(what === 'renamed' ? 'renamedUsed' : 'removedUsed', { name }), ...out.uses]);
    } catch (e) { this.warn([e.message]); }
  }

  renderWarnings() {
    const box = this.root.querySelector('.fd-warnings');
    if (!box) return;
    box.innerHTML = '';
    box.hidden = !this.warnings.length;
    if (this.warnings.length) {
      box.append(el('strong', {}, `⚠ ${this.warnings[0]}`), el('ul', {}, this.warnings.slice(1).map((w) => el('li', {}, w))));
    }
  }

  render() {
    const r = this.root;
    r.innerHTML = '';
    const meta = mutu(this.schema);
    const tabs = el('div', { class: 'fd-tabs', role: 'tablist' },
      el('button', { type: 'button', role: 'tab', 'aria-selected': String(this.view === 'fields'), class: this.view === 'fields' ? 'on' : '', on: { click: () => { this.view = 'fields'; this.render(); } } }, t('fields')),
      el('button', { type: 'button', role: 'tab', 'aria-selected': String(this.view === 'json'), class: this.view === 'json' ? 'on' : '', on: { click: () => { this.view = 'json'; this.render(); } } }, 'JSON Schema'));
    const left = el('div', { class: 'fd-edit' }, tabs, el('div', { class: 'fd-warnings', role: 'status', hidden: true }));
    if (this.view === 'json') {
      const area = el('textarea', { class: 'fd-json', spellcheck: 'false', 'aria-label': 'JSON Schema' });
      area.value = this.bad ? area.value : this.text();
      const state = el('p', { class: 'fd-json-state' });
      area.addEventListener('input', () => {
        try {
          this.schema = JSON.parse(area.value); this.bad = null;
          area.classList.remove('invalid'); state.textContent = '';
          this.onChange(area.value);
          clearTimeout(this.timer); this.timer = setTimeout(() => this.preview(), 250);
        } catch (e) { this.bad = e.message; area.classList.add('invalid'); state.textContent = e.message; state.className = 'fd-json-state error'; }
      });
      left.append(area, state);
    } else {
      left.append(
        input(t('formTitleId'), this.schema.title, (v) => { this.schema.title = v; this.changed(false); }),
        input(t('formTitleEn'), meta.title_en, (v) => { meta.title_en = v; this.changed(false); }),
        new FieldList(this, this.schema, '').render());
    }
    const langs = el('div', { class: 'fd-langs', role: 'group', 'aria-label': t('previewLanguage') },
      ['id', 'en'].map((l) => el('button', { type: 'button', class: this.previewLang === l ? 'on' : '', 'data-lang': l, on: { click: () => { this.previewLang = l; this.render(); this.preview(); } } }, l === 'id' ? 'Bahasa Indonesia' : 'English')));
    const right = el('div', { class: 'fd-preview-box' }, el('h3', {}, t('preview')), langs,
      el('p', { class: 'fd-problem error', hidden: true }), el('form', { class: 'fd-preview task-form', lang: this.previewLang, onsubmit: 'return false' }));
    r.append(left, right);
    this.renderWarnings();
    if (this.lastHtml) this.showPreview(this.lastHtml, this.lastProblem);
    if (this.focusField) {
      const [path, name] = [this.focusField.split('.').slice(0, -1), this.focusField.split('.').pop()];
      const card = [...r.querySelectorAll(`.fd-field[data-name="${CSS.escape(name)}"]`)].find(() => true);
      if (card && !path.length) card.focus();
      this.focusField = null;
    }
  }

  showPreview(html, problem) {
    const box = this.root.querySelector('.fd-preview');
    const warn = this.root.querySelector('.fd-problem');
    if (!box) return;
    warn.hidden = !problem; warn.textContent = problem || '';
    box.innerHTML = html || '';
    if (window.mutuForms) window.mutuForms.prepare(box);
  }

  async preview() {
    if (this.bad) return;
    try {
      const out = await this.api('POST', `/drafts/${this.draftId}/forms/preview`, { schema: this.schema, lang: this.previewLang });
      this.lastHtml = out.html; this.lastProblem = out.problem;
      this.showPreview(out.html, out.problem);
    } catch (e) { this.showPreview('', e.message); }
  }
}
