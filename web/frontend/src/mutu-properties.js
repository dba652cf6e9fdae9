// Mutu's own group in the properties panel: what the engine reads from a diagram, in words.
import {
  TextFieldEntry, TextAreaEntry, SelectEntry,
  isTextFieldEntryEdited, isTextAreaEntryEdited, isSelectEntryEdited
} from '@bpmn-io/properties-panel';
import { jsx } from '@bpmn-io/properties-panel/preact/jsx-runtime';
import { useEffect, useMemo, useRef } from '@bpmn-io/properties-panel/preact/hooks';
import { EditorView, keymap, lineNumbers } from '@codemirror/view';
import { EditorState } from '@codemirror/state';
import { python } from '@codemirror/lang-python';
import { defaultKeymap, history, historyKeymap } from '@codemirror/commands';
import { useService } from 'bpmn-js-properties-panel';
import { is, getBusinessObject } from 'bpmn-js/lib/util/ModelUtil';
import { durationInWords } from './words.js';

// --- spiffworkflow extension elements ---------------------------------------------------------

function extensions(bo) {
  return (bo.extensionElements && bo.extensionElements.values) || [];
}

function findExt(bo, type) {
  return extensions(bo).find((e) => e.$instanceOf(type));
}

function ensureExtensions(bo, bpmnFactory, modeling, element) {
  if (!bo.extensionElements) {
    const ext = bpmnFactory.create('bpmn:ExtensionElements', { values: [] });
    ext.$parent = bo;
    modeling.updateModdleProperties(element, bo, { extensionElements: ext });
  }
  return bo.extensionElements;
}

export function getProperty(bo, name) {
  const props = findExt(bo, 'spiffworkflow:Properties');
  const found = props && (props.properties || []).find((p) => p.name === name);
  return found ? found.value : '';
}

function setProperty(element, name, value, svc) {
  const { bpmnFactory, modeling } = svc;
  const bo = getBusinessObject(element);
  const ext = ensureExtensions(bo, bpmnFactory, modeling, element);
  let props = findExt(bo, 'spiffworkflow:Properties');
  if (!props) {
    props = bpmnFactory.create('spiffworkflow:Properties', { properties: [] });
    props.$parent = ext;
    modeling.updateModdleProperties(element, ext, { values: [...ext.values, props] });
  }
  const rest = (props.properties || []).filter((p) => p.name !== name);
  if (value) {
    const prop = bpmnFactory.create('spiffworkflow:Property', { name, value });
    prop.$parent = props;
    rest.push(prop);
  }
  modeling.updateModdleProperties(element, props, { properties: rest });
}

function bodyExt(element, type, value, svc) {
  const { bpmnFactory, modeling } = svc;
  const bo = getBusinessObject(element);
  const ext = ensureExtensions(bo, bpmnFactory, modeling, element);
  const current = findExt(bo, type);
  const others = ext.values.filter((v) => v !== current);
  if (!value) {
    modeling.updateModdleProperties(element, ext, { values: others });
    return;
  }
  const made = bpmnFactory.create(type, { value });
  made.$parent = ext;
  modeling.updateModdleProperties(element, ext, { values: [...others, made] });
}

function services() {
  return {
    bpmnFactory: useService('bpmnFactory'),
    modeling: useService('modeling'),
    translate: useService('translate'),
    debounce: useService('debounceInput'),
    mutu: useService('mutuContext')
  };
}

// --- entries -----------------------------------------------------------------------------------

function text(id, label, getValue, setValue, description) {
  return function Entry(props) {
    const svc = services();
    return jsx(TextFieldEntry, {
      element: props.element, id, label: svc.translate(label), debounce: svc.debounce,
      getValue: () => getValue(props.element, svc), setValue: (v) => setValue(props.element, v, svc),
      description: description ? description(props.element, svc) : undefined
    });
  };
}

function area(id, label, getValue, setValue) {
  return function Entry(props) {
    const svc = services();
    return jsx(TextAreaEntry, {
      element: props.element, id, label: svc.translate(label), debounce: svc.debounce, monospace: true, rows: 6,
      getValue: () => getValue(props.element, svc), setValue: (v) => setValue(props.element, v, svc)
    });
  };
}

// Conditions and scripts get a code editor (CodeMirror, Python) instead of a plain text box.
function code(id, label, getValue, setValue) {
  return function Entry(props) {
    const svc = services();
    const parent = useRef(null);
    const save = useMemo(() => svc.debounce((v) => setValue(props.element, v, svc)), [props.element]);
    useEffect(() => {
      const view = new EditorView({
        parent: parent.current,
        state: EditorState.create({
          doc: getValue(props.element, svc),
          extensions: [
            lineNumbers(), history(), python(), EditorView.lineWrapping,
            keymap.of([...defaultKeymap, ...historyKeymap]),
            EditorView.updateListener.of((u) => { if (u.docChanged) save(u.state.doc.toString()); })
          ]
        })
      });
      return () => view.destroy();
    }, [props.element]);
    return jsx('div', {
      class: 'bio-properties-panel-entry mutu-code', 'data-entry-id': id,
      children: [
        jsx('label', { class: 'bio-properties-panel-label', children: svc.translate(label) }),
        jsx('div', { ref: parent, class: 'mutu-code-editor', id: `bio-properties-panel-${id}` })
      ]
    });
  };
}

function select(id, label, getValue, setValue, options) {
  return function Entry(props) {
    const svc = services();
    return jsx(SelectEntry, {
      element: props.element, id, label: svc.translate(label),
      getValue: () => getValue(props.element, svc), setValue: (v) => setValue(props.element, v, svc),
      getOptions: () => options(svc)
    });
  };
}

const englishName = text('mutu-name-en', 'Name (English)',
  (el, s) => s.mutu.glue.names_en?.[el.id] || '',
  (el, v, s) => s.mutu.setEnglishName(el.id, v));

const englishDocs = area('mutu-docs-en', 'Documentation (English)',
  (el, s) => s.mutu.glue.docs_en?.[el.id] || '',
  (el, v, s) => s.mutu.setEnglishDocs(el.id, v));

const newForm = text('mutu-new-form', 'New form (name), then pick it above',
  () => '',
  (el, v, s) => { if (v) setProperty(el, 'formJsonSchemaFilename', s.mutu.newForm(v), s); });

const clauses = text('mutu-clauses', 'Manual clauses (e.g. 8.7, 8.6)',
  (el) => getProperty(getBusinessObject(el), 'clauses'),
  (el, v, s) => setProperty(el, 'clauses', v, s));

const form = select('mutu-form', 'Form',
  (el) => getProperty(getBusinessObject(el), 'formJsonSchemaFilename'),
  (el, v, s) => setProperty(el, 'formJsonSchemaFilename', v, s),
  (s) => [{ value: '', label: '—' }, ...s.mutu.forms().map((f) => ({ value: f, label: f }))]);

const due = text('mutu-due', 'Due (expression, e.g. "P3D")',
  (el) => getProperty(getBusinessObject(el), 'due'),
  (el, v, s) => setProperty(el, 'due', v, s),
  (el, s) => durationInWords(getProperty(getBusinessObject(el), 'due'), s.mutu.lang, 'due'));

const roles = text('mutu-roles', 'Role(s), comma separated',
  (el, s) => [].concat(s.mutu.glue.lane_roles?.[getBusinessObject(el).name] || []).join(', '),
  (el, v, s) => s.mutu.setLaneRoles(getBusinessObject(el).name, v));

const script = code('mutu-script', 'Script (restricted Python)',
  (el) => getBusinessObject(el).script || '',
  (el, v, s) => s.modeling.updateProperties(el, { script: v, scriptFormat: 'python' }));

const condition = code('mutu-condition', 'Condition (restricted Python)',
  (el) => getBusinessObject(el).conditionExpression?.body || '',
  (el, v, s) => s.modeling.updateProperties(el, {
    conditionExpression: v ? s.bpmnFactory.create('bpmn:FormalExpression', { body: v }) : undefined
  }));

const decision = text('mutu-decision', 'Decision (DMN decision id)',
  (el) => findExt(getBusinessObject(el), 'spiffworkflow:CalledDecisionId')?.value || '',
  (el, v, s) => bodyExt(el, 'spiffworkflow:CalledDecisionId', v, s));

const operator = select('mutu-operator', 'Service operator',
  (el) => findExt(getBusinessObject(el), 'spiffworkflow:ServiceTaskOperator')?.id || '',
  (el, v, s) => {
    const bo = getBusinessObject(el);
    const current = findExt(bo, 'spiffworkflow:ServiceTaskOperator');
    if (current) { s.modeling.updateModdleProperties(el, current, { id: v }); return; }
    const ext = ensureExtensions(bo, s.bpmnFactory, s.modeling, el);
    const made = s.bpmnFactory.create('spiffworkflow:ServiceTaskOperator', { id: v, resultVariable: `${el.id}_result` });
    made.$parent = ext;
    s.modeling.updateModdleProperties(el, ext, { values: [...ext.values, made] });
  },
  (s) => [{ value: '', label: '—' }, ...s.mutu.operators.map((o) => ({ value: o, label: o }))]);

// An asynchronous service task waits for a worker instead of calling its operator in the step.
const calledBy = select('mutu-async', 'Called by',
  (el) => (getProperty(getBusinessObject(el), 'async') === 'true' ? 'true' : ''),
  (el, v, s) => setProperty(el, 'async', v, s),
  (s) => [
    { value: '', label: s.translate('The step itself (same transaction)') },
    { value: 'true', label: s.translate('A worker, retried with backoff (asynchronous)') }
  ]);

function timerDefinition(el) {
  const defs = getBusinessObject(el).eventDefinitions || [];
  return defs.find((d) => is(d, 'bpmn:TimerEventDefinition'));
}

const TIMER_KINDS = ['timeDuration', 'timeDate', 'timeCycle'];

function timerKind(el) {
  const def = timerDefinition(el);
  return TIMER_KINDS.find((k) => def && def[k]) || 'timeDuration';
}

const timerType = select('mutu-timer-kind', 'Timer',
  (el) => timerKind(el),
  (el, v, s) => {
    const def = timerDefinition(el);
    const value = def[timerKind(el)]?.body || '';
    const update = { timeDuration: undefined, timeDate: undefined, timeCycle: undefined };
    update[v] = s.bpmnFactory.create('bpmn:FormalExpression', { body: value });
    s.modeling.updateModdleProperties(el, def, update);
  },
  (s) => [
    { value: 'timeDuration', label: s.translate('Duration (wait this long)') },
    { value: 'timeDate', label: s.translate('Date (wait until)') },
    { value: 'timeCycle', label: s.translate('Cycle (repeat)') }
  ]);

const timerValue = text('mutu-timer-value', 'Timer expression (quoted ISO 8601, e.g. "P30D")',
  (el) => timerDefinition(el)?.[timerKind(el)]?.body || '',
  (el, v, s) => {
    const update = {};
    update[timerKind(el)] = s.bpmnFactory.create('bpmn:FormalExpression', { body: v });
    s.modeling.updateModdleProperties(el, timerDefinition(el), update);
  },
  (el, s) => durationInWords(timerDefinition(el)?.[timerKind(el)]?.body || '', s.mutu.lang, timerKind(el)));

function entry(id, component, isEdited) {
  return { id, component, isEdited };
}

function mutuEntries(element) {
  const bo = getBusinessObject(element);
  const out = [];
  if (is(element, 'bpmn:Lane')) {
    out.push(entry('mutu-roles', roles, isTextFieldEntryEdited));
    return out;
  }
  if (is(element, 'bpmn:FlowElement') && !is(element, 'bpmn:SequenceFlow')) {
    out.push(entry('mutu-name-en', englishName, isTextFieldEntryEdited));
    out.push(entry('mutu-docs-en', englishDocs, isTextAreaEntryEdited));
  }
  if (is(element, 'bpmn:UserTask') || (is(element, 'bpmn:StartEvent') && !timerDefinition(element))) {
    out.push(entry('mutu-form', form, isSelectEntryEdited));
    out.push(entry('mutu-new-form', newForm, isTextFieldEntryEdited));
  }
  if (is(element, 'bpmn:UserTask') || is(element, 'bpmn:ManualTask')) {
    out.push(entry('mutu-due', due, isTextFieldEntryEdited));
  }
  if (is(element, 'bpmn:ScriptTask')) out.push(entry('mutu-script', script, () => false));
  if (is(element, 'bpmn:BusinessRuleTask')) out.push(entry('mutu-decision', decision, isTextFieldEntryEdited));
  if (is(element, 'bpmn:ServiceTask')) {
    out.push(entry('mutu-operator', operator, isSelectEntryEdited));
    out.push(entry('mutu-async', calledBy, isSelectEntryEdited));
  }
  if (is(element, 'bpmn:SequenceFlow') && bo.sourceRef && is(bo.sourceRef, 'bpmn:Gateway')) {
    out.push(entry('mutu-condition', condition, () => false));
  }
  if (timerDefinition(element)) {
    out.push(entry('mutu-timer-kind', timerType, isSelectEntryEdited));
    out.push(entry('mutu-timer-value', timerValue, isTextFieldEntryEdited));
  }
  if (is(element, 'bpmn:FlowNode')) out.push(entry('mutu-clauses', clauses, isTextFieldEntryEdited));
  return out;
}

function MutuPropertiesProvider(propertiesPanel, translate) {
  this.getGroups = (element) => (groups) => {
    const entries = mutuEntries(element);
    // Mutu's timer entries replace the plain ones: they say in words what the expression means.
    const kept = timerDefinition(element) ? groups.filter((g) => g.id !== 'timer') : groups;
    if (entries.length) kept.splice(1, 0, { id: 'mutu', label: translate('Mutu'), entries });
    return kept;
  };
  propertiesPanel.registerProvider(400, this); // after getGroups exists: the panel checks for it
}
MutuPropertiesProvider.$inject = ['propertiesPanel', 'translate'];

// Only what the engine executes: no data stores, groups or participants' message flows to nowhere.
function MutuPalette(palette) {
  palette.registerProvider(100, {
    getPaletteEntries: () => (entries) => {
      for (const key of ['create.data-store', 'create.group']) delete entries[key];
      return entries;
    }
  });
}
MutuPalette.$inject = ['palette'];

export const MutuModule = {
  __init__: ['mutuPropertiesProvider', 'mutuPalette'],
  mutuPropertiesProvider: ['type', MutuPropertiesProvider],
  mutuPalette: ['type', MutuPalette]
};
