// The QMR's process editor: bpmn-js and dmn-js over a draft's files, checked, diffed and published
// through the same /api/v1 that scripts use (with the page's session and CSRF token).
import BpmnModeler from 'bpmn-js/lib/Modeler';
import DmnModeler from 'dmn-js/lib/Modeler';
import { BpmnModdle } from 'bpmn-moddle';
import { BpmnPropertiesPanelModule, BpmnPropertiesProviderModule } from 'bpmn-js-properties-panel';
import { diff } from 'bpmn-js-differ';
import Linter from 'bpmnlint/lib/linter';
import { MutuModule } from './mutu-properties.js';
import spiffworkflow from './spiffworkflow.json';
import { translateModule } from './translate.js';
import { FormDesigner } from './forms.js';
import { renderGlue } from './glue.js';
import { Scenarios } from './scenarios.js';
import { engineWords, t } from './ui-words.js';

const RULES = {
  'no-disconnected': require('bpmnlint/rules/no-disconnected'),
  'no-implicit-split': require('bpmnlint/rules/no-implicit-split'),
  'label-required': require('bpmnlint/rules/label-required'),
  'start-event-required': require('bpmnlint/rules/start-event-required'),
  'end-event-required': require('bpmnlint/rules/end-event-required'),
  'no-duplicate-sequence-flows': require('bpmnlint/rules/no-duplicate-sequence-flows'),
  'fake-join': require('bpmnlint/rules/fake-join')
};
const LINT = { rules: Object.fromEntries(Object.keys(RULES).map((r) => [r, r === 'label-required' || r === 'fake-join' ? 'warn' : 'error'])) };

const root = document.getElementById('editor');
const data = JSON.parse(document.getElementById('editor-data').textContent);
const lang = document.documentElement.lang === 'en' ? 'en' : 'id';
const $ = (id) => document.getElementById(id);
const say = (text, kind = 'info') => { const s = $('status'); s.textContent = text; s.className = `status ${kind}`; };

const state = {
  draftId: data.draft_id, key: data.process_key, revision: data.revision, files: data.files,
  base: data.base_files || {}, current: null, dirty: new Set(), deleted: new Set(), notes: {}, glue: {}, problems: []
};
root.dataset.key = state.key;
const gluePath = `workflows/${state.key}/process.json`;
try { state.glue = JSON.parse(state.files[gluePath] || '{}'); } catch (e) { state.glue = {}; }

async function api(method, path, body) {
  const response = await fetch(`/api/v1${path}`, {
    method, credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'X-CSRFToken': data.csrf },
    body: body === undefined ? undefined : JSON.stringify(body)
  });
  const json = await response.json().catch(() => ({}));
  if (!response.ok) { const err = new Error(json.error?.message || response.statusText); err.body = json; err.status = response.status; throw err; }
  return json;
}

// A posted form (the scenario recorder sends a task's fields as the task page does).
function post(path, formData) {
  return fetch(`/api/v1${path}`, { method: 'POST', credentials: 'same-origin', headers: { 'X-CSRFToken': data.csrf }, body: formData });
}

const formsPrefix = `workflows/${state.key}/forms/`;
const designer = new FormDesigner({
  root: $('form-designer'), api, draftId: state.draftId, lang, key: state.key,
  onChange(text) { if (state.current?.startsWith(formsPrefix)) { state.files[state.current] = text; state.dirty.add(state.current); scheduleSave(); } }
});

const mutuContext = {
  lang,
  glue: state.glue,
  operators: data.operators,
  forms: () => Object.keys(state.files).filter((p) => p.startsWith(`workflows/${state.key}/forms/`)).map((p) => p.split('/').pop()).sort(),
  setEnglishName(id, value) {
    state.glue.names_en = state.glue.names_en || {};
    if (value) state.glue.names_en[id] = value; else delete state.glue.names_en[id];
    state.dirty.add(gluePath);
  },
  setEnglishDocs(id, value) {
    state.glue.docs_en = state.glue.docs_en || {};
    if (value) state.glue.docs_en[id] = value; else delete state.glue.docs_en[id];
    state.dirty.add(gluePath);
  },
  newForm(name) {
    const file = name.replace(/[^A-Za-z0-9_-]/g, '_').replace(/\.json$/, '') + '.json';
    const path = `workflows/${state.key}/forms/${file}`;
    if (!state.files[path]) {
      state.files[path] = JSON.stringify({ type: 'object', title: name, 'x-mutu': { title_en: name }, properties: {} }, null, 2) + '\n';
      state.dirty.add(path);
      fileList();
    }
    return file;
  },
  setLaneRoles(lane, value) {
    state.glue.lane_roles = state.glue.lane_roles || {};
    const roles = value.split(',').map((r) => r.trim()).filter(Boolean);
    if (!roles.length) delete state.glue.lane_roles[lane];
    else state.glue.lane_roles[lane] = roles.length === 1 ? roles[0] : roles;
    state.dirty.add(gluePath);
  }
};

const bpmn = new BpmnModeler({
  container: '#canvas',
  propertiesPanel: { parent: '#properties' },
  additionalModules: [
    BpmnPropertiesPanelModule, BpmnPropertiesProviderModule, MutuModule,
    { mutuContext: ['value', mutuContext] }, translateModule(lang)
  ],
  moddleExtensions: { spiffworkflow }
});
const dmn = new DmnModeler({ container: '#dmn' });
let autosave = null;
bpmn.on('commandStack.changed', () => {
  if (state.current) state.dirty.add(state.current);
  say(lang === 'en' ? 'Unsaved changes' : 'Ada perubahan yang belum disimpan');
  clearTimeout(autosave);
  autosave = setTimeout(save, 4000); // drafts are kept on the server as one works
});

// The server lists a bundle's changes in English; say them in the page's language.
function changeWords(line) {
  if (lang === 'en') return line;
  const verbs = { added: 'ditambah', removed: 'dihapus', changed: 'diubah' };
  let m = /^(added|removed|changed) (\S+)$/.exec(line);
  if (m) return `${m[2]} ${verbs[m[1]]}`;
  m = /^(\S+): field '([^']+)' (added|removed|changed)$/.exec(line);
  if (m) return `${m[1]}: kolom ${m[2]} ${verbs[m[3]]}`;
  m = /^(\S+): (.+) changed$/.exec(line);
  if (m) return `${m[1]}: ${m[2]} diubah`;
  return line;
}

// --- files --------------------------------------------------------------------------------

function fileList() {
  const list = $('files');
  list.innerHTML = '';
  for (const path of Object.keys(state.files).sort()) {
    const item = document.createElement('button');
    item.type = 'button'; item.textContent = path.replace(`workflows/${state.key}/`, ''); item.dataset.path = path;
    item.className = path === state.current ? 'on' : '';
    item.addEventListener('click', () => open(path));
    list.appendChild(item);
  }
  const add = document.createElement('button');
  add.type = 'button'; add.id = 'new-form'; add.className = 'small'; add.textContent = `+ ${t('newForm')}`;
  add.addEventListener('click', newForm);
  list.appendChild(add);
}

// Which user tasks (and start events) of the draft's diagrams name a form.
function formUsers(file) {
  const users = [];
  for (const [path, text] of Object.entries(state.files)) {
    if (!path.endsWith('.bpmn')) continue;
    const doc = new DOMParser().parseFromString(text, 'application/xml');
    for (const prop of doc.getElementsByTagNameNS('http://spiffworkflow.org/bpmn/schema/1.0/core', 'property')) {
      if (prop.getAttribute('name') === 'formJsonSchemaFilename' && prop.getAttribute('value') === file) {
        let owner = prop.parentNode;
        while (owner && !owner.getAttribute?.('id')) owner = owner.parentNode;
        if (owner) users.push(`${owner.getAttribute('name') || ''} (${owner.getAttribute('id')})`);
      }
    }
  }
  return users;
}

async function newForm() {
  const name = window.prompt(t('newFormName'));
  if (!name) return;
  await keepCurrent();
  const file = mutuContext.newForm(name.trim());
  await open(`${formsPrefix}${file}`);
}

async function renameForm() {
  const old = state.current.slice(formsPrefix.length);
  const name = window.prompt(t('renameFormTo'), old.replace(/\.json$/, ''));
  if (!name) return;
  const file = name.trim().replace(/[^A-Za-z0-9_-]/g, '_').replace(/\.json$/, '') + '.json';
  if (file === old || state.files[`${formsPrefix}${file}`]) return;
  await keepCurrent();
  state.files[`${formsPrefix}${file}`] = state.files[state.current];
  delete state.files[state.current];
  state.dirty.delete(state.current);
  state.deleted.add(state.current);
  state.dirty.add(`${formsPrefix}${file}`);
  // Tasks that used the old name now use the new one.
  const from = `name="formJsonSchemaFilename" value="${old}"`, to = `name="formJsonSchemaFilename" value="${file}"`;
  for (const [path, text] of Object.entries(state.files)) {
    if (path.endsWith('.bpmn') && text.includes(from)) { state.files[path] = text.split(from).join(to); state.dirty.add(path); }
  }
  state.current = null;
  await open(`${formsPrefix}${file}`);
  save();
}

async function deleteForm() {
  const file = state.current.slice(formsPrefix.length);
  const users = formUsers(file);
  if (users.length) { say(t('formUsedBy', { tasks: users.join(', ') }), 'error'); return; }
  delete state.files[state.current];
  state.dirty.delete(state.current);
  state.deleted.add(state.current);
  state.current = null;
  await open(Object.keys(state.files).find((p) => p.endsWith('.bpmn')));
  save();
}

async function keepCurrent() {
  const path = state.current;
  if (!path || !state.dirty.has(path) || !(path in state.files)) return;
  if (path.endsWith('.bpmn')) state.files[path] = (await bpmn.saveXML({ format: true })).xml;
  else if (path.endsWith('.dmn')) state.files[path] = (await dmn.saveXML({ format: true })).xml;
  else if (path.startsWith(formsPrefix)) state.files[path] = designer.text();
  else if (path === gluePath) state.files[path] = JSON.stringify(state.glue, null, 2) + '\n';
  else state.files[path] = $('json').value;
}

function scheduleSave() {
  say(lang === 'en' ? 'Unsaved changes' : 'Ada perubahan yang belum disimpan');
  clearTimeout(autosave);
  autosave = setTimeout(save, 4000);
}

function drawGlue() {
  renderGlue($('glue'), state.glue, data.roles || {}, () => {
    state.dirty.add(gluePath);
    $('json').value = JSON.stringify(state.glue, null, 2);
    scheduleSave();
  });
}

async function open(path) {
  await keepCurrent();
  state.current = path;
  root.dataset.kind = path.endsWith('.bpmn') ? 'bpmn' : path.endsWith('.dmn') ? 'dmn'
    : path.startsWith(formsPrefix) ? 'form' : path === gluePath ? 'glue' : 'json';
  if (path.endsWith('.bpmn')) {
    await bpmn.importXML(state.files[path]);
    bpmn.get('canvas').zoom('fit-viewport');
    markProblems();
  } else if (path.endsWith('.dmn')) {
    await dmn.importXML(state.files[path]);
  } else if (path.startsWith(formsPrefix)) {
    designer.load(state.files[path], path.slice(formsPrefix.length));
  } else {
    $('json').value = path === gluePath ? JSON.stringify(state.glue, null, 2) : state.files[path];
    if (path === gluePath) drawGlue();
  }
  fileList();
}

$('json').addEventListener('input', () => {
  state.dirty.add(state.current);
  try {
    const value = JSON.parse($('json').value);
    if (state.current === gluePath) Object.assign(state.glue, value);
    $('json').classList.remove('invalid');
  } catch (e) { $('json').classList.add('invalid'); }
});
$('json').addEventListener('change', () => { if (state.current === gluePath) drawGlue(); });

// Saves run one after another, so an autosave and a click never send the same revision twice.
let saving = Promise.resolve(true);
function save() {
  saving = saving.then(saveNow, saveNow);
  return saving;
}

async function saveNow() {
  if (root.dataset.published) return true; // a published draft is read-only: nothing to save, nothing to say
  await keepCurrent();
  if (state.dirty.has(gluePath) || state.current !== gluePath) {
    if (state.dirty.has(gluePath)) state.files[gluePath] = JSON.stringify(state.glue, null, 2) + '\n';
  }
  for (const path of [...state.deleted]) {
    try {
      await api('DELETE', `/drafts/${state.draftId}/files/${path}`, { revision: state.revision }).then((out) => { state.revision = out.revision; });
    } catch (err) {
      if (err.status !== 404) { say(err.message, 'error'); return false; }
    }
    state.deleted.delete(path);
  }
  for (const path of [...state.dirty]) {
    if (!(path in state.files)) { state.dirty.delete(path); continue; }
    try {
      const out = await api('PUT', `/drafts/${state.draftId}/files/${path}`, { text: state.files[path], revision: state.revision });
      state.revision = out.revision;
      state.dirty.delete(path);
    } catch (err) {
      say(err.message, 'error');
      return false;
    }
  }
  // A save that ends after a publish must not hide what the publish said.
  if (!root.dataset.published) say(lang === 'en' ? `Saved (revision ${state.revision})` : `Tersimpan (revisi ${state.revision})`, 'ok');
  return true;
}

// --- check ----------------------------------------------------------------------------------

async function lintInBrowser() {
  const problems = [];
  if (!state.current || !state.current.endsWith('.bpmn')) return problems;
  const definitions = bpmn.getDefinitions();
  const linter = new Linter({ config: LINT, resolver: { resolveRule: (pkg, name) => RULES[name], resolveConfig: () => LINT } });
  const reports = await linter.lint(definitions);
  for (const [rule, list] of Object.entries(reports)) {
    for (const r of list) problems.push({ file: state.current, element: r.id, severity: r.category === 'error' ? 'error' : 'warning', message: `${r.message} (${rule})` });
  }
  const registry = bpmn.get('elementRegistry');
  for (const el of registry.getAll()) {
    const bo = el.businessObject;
    if (el.type === 'bpmn:UserTask') {
      const props = (bo.extensionElements?.values || []).find((v) => v.$type === 'spiffworkflow:Properties');
      if (!(props?.properties || []).some((p) => p.name === 'formJsonSchemaFilename' && p.value)) {
        problems.push({ file: state.current, element: el.id, severity: 'warning', message: lang === 'en' ? 'user task without a form' : 'tugas pengguna tanpa formulir' });
      }
    }
    if (el.type === 'bpmn:Lane' && !(state.glue.lane_roles || {})[bo.name]) {
      problems.push({ file: state.current, element: el.id, severity: 'warning', message: lang === 'en' ? `lane "${bo.name}" has no role` : `lajur "${bo.name}" belum punya peran` });
    }
  }
  return problems;
}

function markProblems() {
  const canvas = bpmn.get('canvas');
  const registry = bpmn.get('elementRegistry');
  for (const el of registry.getAll()) { canvas.removeMarker(el.id, 'mutu-error'); canvas.removeMarker(el.id, 'mutu-warning'); }
  for (const p of state.problems) {
    if (p.element && p.file === state.current && registry.get(p.element)) canvas.addMarker(p.element, p.severity === 'error' ? 'mutu-error' : 'mutu-warning');
  }
}

function showProblems() {
  const list = $('problems');
  list.innerHTML = '';
  if (!state.problems.length) { list.innerHTML = `<li class="ok">${lang === 'en' ? 'No problems found.' : 'Tidak ada masalah.'}</li>`; }
  for (const p of state.problems) {
    const li = document.createElement('li');
    li.className = p.severity;
    li.textContent = `${p.severity === 'error' ? '✖' : '⚠'} ${p.file}${p.element ? ` [${p.element}]` : ''}: ${engineWords(p.message)}`;
    li.addEventListener('click', async () => {
      if (p.file?.startsWith(scenarios.prefix())) { await scenarios.show(p.file); return; }
      if (p.file !== state.current && state.files[p.file]) await open(p.file);
      const el = p.element && bpmn.get('elementRegistry').get(p.element);
      if (el) { bpmn.get('selection').select(el); bpmn.get('canvas').scrollToElement(el); }
    });
    list.appendChild(li);
  }
  markProblems();
  const errors = state.problems.filter((p) => p.severity === 'error').length;
  $('publish').disabled = errors > 0;
  $('ack-row').hidden = !state.problems.some((p) => p.severity === 'warning');
}

async function check() {
  if (!(await save())) return;
  say(lang === 'en' ? 'Checking…' : 'Memeriksa…');
  const server = await api('POST', `/drafts/${state.draftId}/check`);
  state.problems = [...server.problems, ...(await lintInBrowser())];
  showProblems();
  const list = $('changes');
  list.innerHTML = '';
  for (const line of server.changes || []) { const li = document.createElement('li'); li.textContent = changeWords(line); list.appendChild(li); }
  const errors = state.problems.filter((p) => p.severity === 'error').length;
  say(errors ? (lang === 'en' ? `${errors} error(s)` : `${errors} kesalahan`) : (lang === 'en' ? 'Check passed' : 'Pemeriksaan lolos'), errors ? 'error' : 'ok');
}

// --- changes against the version in effect --------------------------------------------------

async function showChanges() {
  await keepCurrent();
  const path = state.current;
  if (!path?.endsWith('.bpmn') || !state.base[path]) { say(lang === 'en' ? 'Nothing to compare' : 'Tidak ada pembanding'); return; }
  const moddle = new BpmnModdle({ spiffworkflow });
  const before = (await moddle.fromXML(state.base[path])).rootElement;
  const after = (await moddle.fromXML(state.files[path])).rootElement;
  const result = diff(before, after);
  const canvas = bpmn.get('canvas');
  const registry = bpmn.get('elementRegistry');
  const mark = (ids, marker) => Object.keys(ids).forEach((id) => registry.get(id) && canvas.addMarker(id, marker));
  mark(result._added, 'diff-added'); mark(result._changed, 'diff-changed'); mark(result._layoutChanged, 'diff-layout');
  const words = lang === 'en' ? ['added', 'changed', 'removed', 'moved'] : ['ditambah', 'diubah', 'dihapus', 'dipindah'];
  const list = $('changes');
  list.innerHTML = '';
  for (const [ids, word] of [[result._added, words[0]], [result._changed, words[1]], [result._removed, words[2]], [result._layoutChanged, words[3]]]) {
    for (const id of Object.keys(ids)) { const li = document.createElement('li'); li.textContent = `${word}: ${id}`; li.className = `diff-${word}`; list.appendChild(li); }
  }
  say(lang === 'en' ? 'Changes marked on the canvas' : 'Perubahan ditandai di diagram', 'ok');
}

async function publish() {
  if (!(await save())) return;
  try {
    const out = await api('POST', `/drafts/${state.draftId}/publish`, { note: $('note').value, acknowledge_warnings: $('ack').checked, scenario_notes: state.notes });
    say(out.state === 'in_effect'
      ? (lang === 'en' ? `Version ${out.version} is in effect` : `Versi ${out.version} berlaku`)
      : (lang === 'en' ? `Version ${out.version} waits for the Director's approval` : `Versi ${out.version} menunggu persetujuan Direktur`), 'ok');
    $('published').hidden = false;
    root.dataset.published = String(out.version);
  } catch (err) {
    if (err.body?.error?.problems) {
      state.problems = err.body.error.problems;
      // A scenario changed or removed without a note: ask for it, and publish again when all have one.
      const unexplained = state.problems.filter((p) => / say why in a note$/.test(p.message));
      for (const p of unexplained) {
        const note = window.prompt(`${t('scenarioNote')} (${p.file.split('/').pop()})`);
        if (note) state.notes[p.file] = note;
      }
      if (unexplained.length && unexplained.length === state.problems.length && unexplained.every((p) => state.notes[p.file])) {
        state.problems = [];
        return publish();
      }
      showProblems();
      const failing = state.problems.filter((p) => p.file?.startsWith(scenarios.prefix()) && / step /.test(p.message));
      if (failing.length) await scenarios.runAll();
    }
    say(engineWords(err.message), 'error');
  }
}

const scenarios = new Scenarios({
  api, post, state, bpmn, open, save, say, lang, root, showProblems,
  list: $('scenario-list'), recorder: $('recorder'), refreshFiles: fileList
});
$('run-scenarios').addEventListener('click', () => scenarios.runAll().catch((e) => say(e.message, 'error')));
$('record-scenario').addEventListener('click', () => scenarios.record().catch((e) => say(e.message, 'error')));
$('rename-form').addEventListener('click', renameForm);
$('delete-form').addEventListener('click', deleteForm);
scenarios.renderList();

$('save').addEventListener('click', save);
$('check').addEventListener('click', check);
$('diff').addEventListener('click', showChanges);
$('publish').addEventListener('click', publish);
window.addEventListener('beforeunload', (e) => { if (state.dirty.size) { e.preventDefault(); e.returnValue = ''; } });
window.mutuEditor = { bpmn, dmn, state, open, save, check, designer, scenarios };

const first = Object.keys(state.files).find((p) => p === `bpmn/${state.key}.bpmn`) || Object.keys(state.files).find((p) => p.endsWith('.bpmn'));
open(first).then(() => { root.dataset.ready = '1'; say(lang === 'en' ? 'Ready' : 'Siap'); });
