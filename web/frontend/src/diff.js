// A version's diagram beside the one before it: added, changed and moved elements marked (bpmn-js-differ).
import NavigatedViewer from 'bpmn-js/lib/NavigatedViewer';
import { BpmnModdle } from 'bpmn-moddle';
import { diff } from 'bpmn-js-differ';
import spiffworkflow from './spiffworkflow.json';

const data = JSON.parse(document.getElementById('diff-data').textContent);
const lang = document.documentElement.lang === 'en' ? 'en' : 'id';
const words = lang === 'en'
  ? { added: 'added', changed: 'changed', removed: 'removed', layout: 'moved', none: 'No change to the diagram.' }
  : { added: 'ditambah', changed: 'diubah', removed: 'dihapus', layout: 'dipindah', none: 'Diagram tidak berubah.' };

async function show() {
  const viewer = new NavigatedViewer({ container: '#diff-canvas', moddleExtensions: { spiffworkflow } });
  await viewer.importXML(data.after);
  viewer.get('canvas').zoom('fit-viewport');
  const list = document.getElementById('diff-list');
  if (!data.before) { list.textContent = words.none; return; }
  const moddle = new BpmnModdle({ spiffworkflow });
  const before = (await moddle.fromXML(data.before)).rootElement;
  const after = (await moddle.fromXML(data.after)).rootElement;
  const result = diff(before, after);
  const canvas = viewer.get('canvas');
  const registry = viewer.get('elementRegistry');
  let count = 0;
  for (const [ids, kind] of [[result._added, 'added'], [result._changed, 'changed'], [result._removed, 'removed'], [result._layoutChanged, 'layout']]) {
    for (const id of Object.keys(ids)) {
      count += 1;
      if (registry.get(id)) canvas.addMarker(id, `diff-${kind}`);
      const li = document.createElement('li');
      li.className = `diff-${kind}`;
      li.textContent = `${words[kind]}: ${id}`;
      list.appendChild(li);
    }
  }
  if (!count) list.textContent = words.none;
  document.getElementById('diff').dataset.ready = '1';
}
show();
