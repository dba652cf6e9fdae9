// Scenarios in the editor: run every one against the draft (results marked on the diagram), and
// record a new one by running the draft in a sandbox, form by form, as staff would see it.
import { engineWords, t } from './ui-words.js';

const FORM = 'formJsonSchemaFilename';

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'on') Object.entries(v).forEach(([ev, fn]) => node.addEventListener(ev, fn));
    else if (v !== undefined && v !== null) node.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c.nodeType ? c : document.createTextNode(String(c)));
  return node;
}

const slug = (text) => text.toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '').slice(0, 60) || 'skenario';

export class Scenarios {
  constructor(ctx) {
    Object.assign(this, ctx); // { api, post, state, bpmn, open, save, say, root, list, recorder, lang }
    this.results = {};
  }

  prefix() { return `workflows/${this.state.key}/scenarios/`; }
  bpmnPath() { return Object.keys(this.state.files).find((p) => p === `bpmn/${this.state.key}.bpmn`) || Object.keys(this.state.files).find((p) => p.endsWith('.bpmn')); }
  paths() { return Object.keys(this.state.files).filter((p) => p.startsWith(this.prefix()) && p.endsWith('.json')).sort(); }

  nameOf(path) {
    try { const d = JSON.parse(this.state.files[path]); return (this.lang === 'en' && d.name_en) || d.name || path; } catch (e) { return path; }
  }

  renderList() {
    const list = this.list;
    list.innerHTML = '';
    if (!this.paths().length) list.append(el('li', { class: 'muted' }, t('noScenarios')));
    for (const path of this.paths()) {
      const result = this.results[path];
      const badge = result ? el('span', { class: `badge ${result.passed ? 'ok' : 'error'}` }, result.passed ? `✓ ${t('passed')}` : `✖ ${t('failed')}`) : null;
      const item = el('li', { class: `scenario ${result ? (result.passed ? 'ok' : 'error') : ''}`, 'data-path': path },
        el('button', { type: 'button', class: 'link', on: { click: () => this.show(path) } }, this.nameOf(path)), ' ', badge,
        el('button', { type: 'button', class: 'small', 'aria-label': t('removeScenario'), on: { click: () => this.remove(path) } }, '✕'));
      if (result && !result.passed && result.difference) {
        const d = result.difference;
        item.append(el('div', { class: 'difference' }, `${t('stepN', { n: d.step })}${d.element ? ` [${d.element}]` : ''}: ${t('expected')} ${engineWords(d.expected)}; ${t('found')} ${engineWords(d.actual)}`));
      }
      list.append(item);
    }
  }

  async runAll() {
    if (!(await this.save())) return;
    this.say(t('running'));
    const out = await this.api('POST', `/drafts/${this.state.draftId}/scenarios/run`, {});
    this.results = Object.fromEntries(out.scenarios.map((r) => [r.path, r]));
    // A scenario that passes now no longer stops the publish.
    const passing = new Set(out.scenarios.filter((r) => r.passed).map((r) => r.path));
    this.state.problems = this.state.problems.filter((p) => !passing.has(p.file));
    this.showProblems();
    this.renderList();
    const failed = out.scenarios.filter((r) => !r.passed);
    this.root.dataset.scenarios = failed.length ? 'failed' : 'passed';
    this.say(failed.length ? `${failed.length} ${t('failed')}` : `${out.scenarios.length} ${t('passed')}`, failed.length ? 'error' : 'ok');
    if (failed.length) await this.show(failed[0].path);
    return out;
  }

  mark(result) {
    const canvas = this.bpmn.get('canvas');
    const registry = this.bpmn.get('elementRegistry');
    for (const e of registry.getAll()) ['mutu-done', 'mutu-active', 'mutu-error', 'mutu-flow'].forEach((m) => canvas.removeMarker(e.id, m));
    const add = (ids, m) => (ids || []).forEach((id) => registry.get(id) && canvas.addMarker(id, m));
    add(result.completed, 'mutu-done'); add(result.flows, 'mutu-flow'); add(result.active, 'mutu-active');
    if (result.difference?.element) add([result.difference.element], 'mutu-error');
  }

  async show(path) {
    const result = this.results[path];
    if (!result) return;
    await this.open(this.bpmnPath());
    this.mark(result);
    const focus = result.difference?.element && this.bpmn.get('elementRegistry').get(result.difference.element);
    if (focus) this.bpmn.get('canvas').scrollToElement(focus);
  }

  remove(path) {
    const note = window.prompt(t('scenarioNote'));
    if (note === null) return;
    this.state.notes[path] = note;
    delete this.state.files[path];
    this.state.dirty.delete(path);
    this.state.deleted.add(path);
    delete this.results[path];
    this.state.problems = this.state.problems.filter((p) => p.file !== path);
    this.showProblems();
    this.renderList();
    this.refreshFiles();
  }

  // --- recording ----------------------------------------------------------------------------

  async record() {
    if (!(await this.save())) return;
    await this.open(this.bpmnPath());
    this.doc = { name: '', name_en: '', start: { data: {} }, steps: [] };
    this.started = false;
    this.root.dataset.kind = 'record';
    this.drawRecorder(null);
  }

  startForm() {
    const registry = this.bpmn.get('elementRegistry');
    for (const e of registry.filter((x) => x.type === 'bpmn:StartEvent')) {
      const props = (e.businessObject.extensionElements?.values || []).find((v) => v.$type === 'spiffworkflow:Properties');
      const form = (props?.properties || []).find((p) => p.name === FORM)?.value;
      if (form) return form;
    }
    return null;
  }

  async formHtml(file) {
    if (!file) return '';
    const text = this.state.files[`workflows/${this.state.key}/forms/${file}`];
    if (!text) return '';
    const out = await this.api('POST', `/drafts/${this.state.draftId}/forms/preview`, { schema: JSON.parse(text), lang: this.lang });
    return out.html;
  }

  async step(task, form, formEl) {
    const body = new FormData(formEl);
    body.set('scenario', JSON.stringify(this.doc));
    body.set('task', task || '');
    body.set('form', form || '');
    body.set('lang', this.lang);
    const response = await this.post(`/drafts/${this.state.draftId}/scenarios/step`, body);
    const json = await response.json();
    if (response.status === 422 && json.html !== undefined) {
      formEl.querySelector('.fields').innerHTML = json.html;
      if (window.mutuForms) window.mutuForms.prepare(formEl);
      return;
    }
    if (!response.ok) { this.say(engineWords(json.error?.message) || response.statusText, 'error'); return; }
    this.doc = json.scenario;
    this.started = true;
    this.drawRecorder(json.state);
  }

  async skip(timer) {
    this.doc.steps.push({ timer });
    const state = await this.api('POST', `/drafts/${this.state.draftId}/scenarios/replay`, { scenario: { ...this.doc, name: this.doc.name || 'x' } });
    if (state.passed) this.doc.steps[this.doc.steps.length - 1].expect = { open: state.open.map((o) => o.bpmn_id) };
    this.drawRecorder(state);
  }

  async drawRecorder(state) {
    const r = this.recorder;
    r.innerHTML = '';
    this.current = state;
    const name = el('input', { id: 'sc-name', value: this.doc.name || '' });
    name.addEventListener('input', () => { this.doc.name = name.value; });
    const nameEn = el('input', { id: 'sc-name-en', value: this.doc.name_en || '' });
    nameEn.addEventListener('input', () => { this.doc.name_en = nameEn.value; });
    r.append(
      el('h3', {}, `● ${t('recording')}`),
      el('p', { class: 'muted' }, t('sandboxNote')),
      el('label', { class: 'fd-in', for: 'sc-name' }, el('span', {}, t('scenarioName')), name),
      el('label', { class: 'fd-in', for: 'sc-name-en' }, el('span', {}, t('scenarioNameEn')), nameEn),
      el('div', { class: 'toolbar' },
        el('button', { type: 'button', id: 'sc-save', class: 'primary', on: { click: () => this.saveRecording() } }, t('saveScenario')),
        el('button', { type: 'button', id: 'sc-cancel', on: { click: () => this.stopRecording() } }, t('cancel'))));
    if (!this.started) {
      const file = this.startForm();
      const form = el('form', { class: 'task-form sc-form', 'data-task': 'start' }, el('h4', {}, t('startForm')), el('div', { class: 'fields' }));
      form.querySelector('.fields').innerHTML = await this.formHtml(file);
      form.append(el('button', { type: 'submit', class: 'primary', id: 'sc-start' }, t('start')));
      form.addEventListener('submit', (e) => { e.preventDefault(); this.step('', file, form); });
      r.append(form);
      if (window.mutuForms) window.mutuForms.prepare(form);
      return;
    }
    this.mark(state);
    if (!state.passed && state.difference) {
      r.append(el('p', { class: 'error sc-difference' }, `${t('stepN', { n: state.difference.step })}: ${engineWords(state.difference.actual)}`));
    }
    r.append(el('p', { class: 'sc-status', 'data-status': state.status }, state.status === 'running' ? '' : t('ended', { status: state.status })));
    if (state.timers.length) {
      r.append(el('h4', {}, t('timers')), el('ul', {}, state.timers.map((tm) => el('li', {}, `${tm.bpmn_id} · ${tm.fire_at.slice(0, 16).replace('T', ' ')} `,
        el('button', { type: 'button', class: 'small sc-skip', 'data-timer': tm.bpmn_id, on: { click: () => this.skip(tm.bpmn_id) } }, `⏩ ${t('skipTime')}`)))));
    }
    if (state.open.length) {
      r.append(el('h4', {}, t('openTasks')));
      const buttons = el('div', { class: 'sc-tasks' });
      for (const task of state.open) {
        buttons.append(el('button', { type: 'button', class: 'small sc-task', 'data-task': task.bpmn_id, on: { click: () => this.openTask(task) } }, `${task.name} (${task.bpmn_id})`));
      }
      r.append(buttons, el('div', { class: 'sc-task-form' }));
      await this.openTask(state.open[0]);
    }
  }

  // A click on a task while the first one's form is still loading must not be overwritten by
  // it (nor wipe what was typed into it): only the latest request renders.
  async openTask(task) {
    const holder = this.recorder.querySelector('.sc-task-form');
    if (!holder) return;
    const shown = holder.querySelector('form');
    if (shown && shown.dataset.task === task.bpmn_id && this.pendingTask === undefined) return;
    const seq = (this.openSeq = (this.openSeq || 0) + 1);
    this.pendingTask = task.bpmn_id;
    const file = task.form ? task.form.split('/').pop() : '';
    const form = el('form', { class: 'task-form sc-form', 'data-task': task.bpmn_id }, el('h4', {}, task.name), el('div', { class: 'fields' }));
    const html = await this.formHtml(file);
    if (seq !== this.openSeq || !holder.isConnected) return;
    this.pendingTask = undefined;
    form.querySelector('.fields').innerHTML = html;
    form.append(el('button', { type: 'submit', class: 'primary sc-complete' }, t('complete')));
    form.addEventListener('submit', (e) => { e.preventDefault(); this.step(task.bpmn_id, file, form); });
    holder.innerHTML = '';
    holder.append(form);
    if (window.mutuForms) window.mutuForms.prepare(form);
  }

  async saveRecording() {
    const name = (this.doc.name || '').trim();
    if (!name || !this.current) { this.say(t('scenarioName'), 'error'); return; }
    const state = this.current;
    const doc = { ...this.doc, name };
    if (!doc.name_en) delete doc.name_en;
    doc.expect = { status: state.status, open: state.open.map((o) => o.bpmn_id) };
    if (state.ends?.length) doc.expect.ends = state.ends;
    if (state.case?.status) doc.expect.case = { status: state.case.status };
    let path = `${this.prefix()}${slug(name)}.json`;
    for (let n = 2; this.state.files[path]; n += 1) path = `${this.prefix()}${slug(name)}_${n}.json`;
    this.state.files[path] = JSON.stringify(doc, null, 2) + '\n';
    this.state.dirty.add(path);
    if (!(await this.save())) return;
    this.stopRecording();
    this.refreshFiles();
    this.results[path] = { ...state, passed: true, path };
    this.renderList();
    this.say(t('saved'), 'ok');
  }

  stopRecording() {
    this.root.dataset.kind = 'bpmn';
    this.recorder.innerHTML = '';
  }
}
