/* The process owner's modeler: bpmn-js (from npm, served under /vendor) with the spiffworkflow
   extension and our properties form (model-properties.js), problems marked on the canvas, and
   the Validate / Deploy / import / download buttons. All words come from the page
   (#editor-text), so the editor speaks the user's language. */
(function () {
  'use strict';

  const BPMN_NS = 'http://www.omg.org/spec/BPMN/20100524/MODEL';

  const { SPIFF_MODDLE, el } = window.ModelProperties;

  const root = document.getElementById('model-editor');
  const T = JSON.parse(document.getElementById('editor-text').textContent);
  const OPTIONS = JSON.parse(document.getElementById('editor-options').textContent);
  const status = document.getElementById('editor-status');
  const problemList = document.getElementById('problem-list');
  const propertiesPanel = document.getElementById('properties');

  const modeler = new window.BpmnJS({
    container: '#canvas',
    moddleExtensions: { spiffworkflow: SPIFF_MODDLE },
  });
  const canvas = modeler.get('canvas');
  const registry = modeler.get('elementRegistry');
  const selection = modeler.get('selection');
  const overlays = modeler.get('overlays');
  const properties = window.ModelProperties.attach(modeler, propertiesPanel, T, OPTIONS);

  function fmt(text, values) {
    return text.replace(/\{(\w+)\}/g, (m, k) => (k in values ? String(values[k]) : m));
  }

  function say(kind, message, extra) {
    status.className = `alert alert-${kind} py-2 mb-2`;
    status.textContent = message;
    if (extra) status.appendChild(extra);
    status.dataset.kind = kind;
  }

  /* --- Loading a diagram ------------------------------------------------------------------
     SpiffWorkflow names a multi-instance collection by variable (loopDataInputRef "voters"),
     which BPMN treats as a reference to an element id; bpmn-js would drop the unresolved
     reference on import. We read them from the XML and put them back as references to stand-in
     elements whose id is the variable name, so they are written out again unchanged. */
  function loopRefsIn(xml) {
    const doc = new DOMParser().parseFromString(xml, 'application/xml');
    const refs = [];
    ['loopDataInputRef', 'loopDataOutputRef'].forEach((tag) => {
      Array.from(doc.getElementsByTagNameNS(BPMN_NS, tag)).forEach((node) => {
        const activity = node.parentNode && node.parentNode.parentNode;
        if (activity && activity.getAttribute) refs.push({ id: activity.getAttribute('id'), tag, name: node.textContent.trim() });
      });
    });
    return refs;
  }

  function flowElementsById() {
    const byId = {};
    (function walk(elements) {
      (elements || []).forEach((node) => {
        byId[node.id] = node;
        walk(node.flowElements);
      });
    })(modeler.getDefinitions().rootElements);
    return byId;
  }

  async function openDiagram(xml) {
    const refs = loopRefsIn(xml);
    await modeler.importXML(xml);
    const byId = flowElementsById();
    refs.forEach(({ id, tag, name }) => {
      const lc = byId[id] && byId[id].loopCharacteristics;
      if (lc && !lc.get(tag)) lc.set(tag, properties.variableRef(name));
    });
    fitLeavingRoomForPalette();
    clearProblems();
    properties.render(null);
  }

  /* The whole diagram in view, with a margin on the left where the palette floats, so that it
     does not cover the lane headers (bpmn-js's fit-viewport uses the whole canvas). The scale
     is computed for the room left beside the palette, so the margin is exact on screen. */
  function fitLeavingRoomForPalette() {
    canvas.zoom('fit-viewport', 'auto');
    const box = canvas.viewbox();
    const width = box.outer.width, height = box.outer.height;
    if (!width || !height || !box.inner.width || !box.inner.height) return; // not laid out
    const frame = document.getElementById('canvas').getBoundingClientRect();
    const palette = document.querySelector('#canvas .djs-palette');
    const left = (palette ? palette.getBoundingClientRect().right - frame.left : 100) + 16;
    const margin = 16;
    const scale = Math.min(
      (width - left - margin) / box.inner.width,
      (height - 2 * margin) / box.inner.height,
      1,
    );
    if (!(scale > 0)) return;
    canvas.viewbox({
      x: box.inner.x - left / scale,
      y: box.inner.y - margin / scale,
      width: width / scale,
      height: height / scale,
    });
  }

  /* --- Problems on the canvas ---------------------------------------------------------------- */
  function clearProblems() {
    registry.getAll().forEach((e) => canvas.removeMarker(e.id, 'has-problem'));
    overlays.remove({ type: 'problem' });
    problemList.innerHTML = '';
    document.getElementById('problems').classList.add('d-none');
  }

  function showProblems(problems) {
    clearProblems();
    if (!problems.length) return;
    document.getElementById('problems').classList.remove('d-none');
    problems.forEach((p) => {
      const element = p.element_id ? registry.get(p.element_id) : null;
      const item = el('li', { class: 'problem', 'data-element': p.element_id || '' });
      const where = p.element_id ? `${p.element_name || p.element_id} (${p.element_id})` : '';
      if (element) {
        canvas.addMarker(element.id, 'has-problem');
        if (!overlays.get({ element: element.id, type: 'problem' }).length) {
          overlays.add(element.id, 'problem', { position: { top: -12, right: 12 }, html: '<span class="problem-badge">!</span>' });
        }
        const link = el('button', { type: 'button', class: 'btn btn-link btn-sm p-0 align-baseline problem-link', text: where });
        link.addEventListener('click', () => {
          showTab('diagram');
          selection.select(element);
          canvas.scrollToElement(element);
        });
        item.appendChild(link);
      } else if (where) {
        item.appendChild(document.createTextNode(where));
      }
      item.appendChild(document.createTextNode(where ? `: ${p.message}` : p.message));
      problemList.appendChild(item);
    });
  }

  /* --- Talking to the server ----------------------------------------------------------------- */
  async function bundle() {
    if (document.activeElement && document.activeElement.blur) document.activeElement.blur(); // commit the field being typed in
    const files = window.FormFiles.collect();
    if (files.error) {
      showTab(window.FormFiles.open(files.file));
      say('danger', files.error);
      return null;
    }
    const { xml } = await modeler.saveXML({ format: true });
    return { bpmn: xml, forms: files.forms };
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRFToken': root.dataset.csrf },
      body: JSON.stringify(body),
    });
    let data;
    try { data = await response.json(); } catch (err) { data = { error: T.serverError }; }
    return { status: response.status, data };
  }

  function busy(on) {
    root.querySelectorAll('.editor-action').forEach((b) => { b.disabled = on; });
  }

  async function validate() {
    const body = await bundle();
    if (!body) return;
    busy(true);
    say('info', T.validating);
    try {
      const { status: code, data } = await post(root.dataset.validateUrl, body);
      if (code !== 200) { say('danger', data.error || T.serverError); return; }
      showProblems(data.problems);
      if (data.ok) say('success', T.noProblems);
      else say('danger', fmt(T.problemsFound, { n: data.problems.length }));
    } catch (err) {
      say('danger', T.offline);
    } finally {
      busy(false);
    }
  }

  function copyRevision() { return Number(root.dataset.copyRevision || 0); }

  function copyShown(savedText) {
    // The header says whether the editor holds a saved working copy, and who saved it when.
    document.getElementById('copy-saved').classList.toggle('d-none', !savedText);
    document.getElementById('copy-saved-text').textContent = savedText || '';
    document.getElementById('discard-button').classList.toggle('d-none', !savedText);
    const notice = document.getElementById('copy-notice');
    if (notice && !savedText) notice.remove();
  }

  /* Saving stores the editor's content as the model's working copy without checking or
     deploying it; the server refuses (409) when another owner changed the copy since this
     page opened it, and "save anyway" writes over it knowingly. */
  async function save(revision) {
    const body = await bundle();
    if (!body) return;
    busy(true);
    say('info', T.saving);
    const base = root.dataset.baseVersion ? Number(root.dataset.baseVersion) : null;
    try {
      const opened = revision !== undefined ? revision : copyRevision();
      const { status: code, data } = await post(root.dataset.saveUrl, { ...body, revision: opened, base_version: base });
      if (code === 200) {
        root.dataset.copyRevision = String(data.revision);
        copyShown(data.saved);
        unsaved = false;
        say('success', data.message);
        status.dataset.saved = data.revision;
      } else if (code === 409) {
        const again = el('button', { type: 'button', class: 'btn btn-sm btn-warning ms-2', id: 'save-anyway', text: T.saveAnyway });
        again.addEventListener('click', () => save(data.revision));
        say('warning', data.error, again);
      } else {
        say('danger', data.error || T.serverError);
      }
    } catch (err) {
      say('danger', T.offline);
    } finally {
      busy(false);
    }
  }

  async function discard() {
    if (!window.confirm(T.discardConfirm)) return;
    busy(true);
    try {
      const { status: code, data } = await post(root.dataset.discardUrl, { revision: copyRevision() });
      if (code === 200) {
        unsaved = false;
        window.location.assign(root.dataset.editUrl);
        return;
      }
      say(code === 409 ? 'warning' : 'danger', data.error || T.serverError);
    } catch (err) {
      say('danger', T.offline);
    } finally {
      busy(false);
    }
  }

  async function deploy(liveVersion, comment, revision) {
    // Deploying changes what every new case runs: asked to confirm, with a comment kept with
    // the version (cancel: nothing happens).
    if (comment === undefined) {
      comment = window.prompt(T.deployConfirm, '');
      if (comment === null) return;
    }
    const body = await bundle();
    if (!body) return;
    busy(true);
    say('info', T.deploying);
    const live = liveVersion !== undefined ? liveVersion : (root.dataset.liveVersion ? Number(root.dataset.liveVersion) : null);
    try {
      const opened = revision !== undefined ? revision : copyRevision();
      const { status: code, data } = await post(root.dataset.deployUrl, { ...body, live_version: live, comment, copy_revision: opened });
      if (code === 200) {
        clearProblems();
        root.dataset.liveVersion = String(data.version);
        document.getElementById('live-version').textContent = data.version;
        document.getElementById('live-note').classList.remove('d-none');
        // The deployed copy is the live version now: the editor works on it, no copy is left.
        root.dataset.copyRevision = String(data.copy_revision);
        root.dataset.baseVersion = String(data.version);
        const baseSpan = document.getElementById('base-version');
        if (baseSpan) baseSpan.textContent = data.version;
        copyShown(null);
        say('success', data.message);
        unsaved = false;
        status.dataset.version = data.version;
      } else if (code === 422 && data.problems) {
        showProblems(data.problems);
        say('danger', data.error);
      } else if (code === 409) {
        const again = el('button', { type: 'button', class: 'btn btn-sm btn-warning ms-2', id: 'deploy-anyway', text: T.deployAnyway });
        // Either another deploy (live_version) or a change to the working copy (revision).
        const liveNow = data.live_version !== undefined ? data.live_version : live;
        const copyNow = data.revision !== undefined ? data.revision : opened;
        again.addEventListener('click', () => deploy(liveNow, comment, copyNow));
        say('warning', data.error, again);
      } else {
        say('danger', data.error || T.serverError);
      }
    } catch (err) {
      say('danger', T.offline);
    } finally {
      busy(false);
    }
  }

  async function importFile(input) {
    const file = input.files[0];
    input.value = '';
    if (!file) return;
    if (file.size > Number(root.dataset.maxBytes)) { say('danger', T.tooLarge); return; }
    const form = new FormData();
    form.append('file', file);
    say('info', T.importing);
    try {
      const response = await fetch(root.dataset.importUrl, {
        method: 'POST', headers: { Accept: 'application/json', 'X-CSRFToken': root.dataset.csrf }, body: form,
      });
      const data = await response.json();
      if (!response.ok) { say('danger', data.error || T.serverError); return; }
      await openDiagram(data.bpmn);
      unsaved = true;
      showTab('diagram');
      say('info', data.message);
    } catch (err) {
      say('danger', fmt(T.cannotOpen, { error: err.message || err }));
    }
  }

  async function download() {
    const body = await bundle();
    if (!body) return;
    const link = el('a', { href: URL.createObjectURL(new Blob([body.bpmn], { type: 'application/xml' })), download: `${root.dataset.key}-working-copy.bpmn` });
    document.body.appendChild(link);
    link.click();
    link.remove();
  }

  /* --- Tabs ---------------------------------------------------------------------------------- */
  function showTab(name) {
    root.querySelectorAll('[role=tab]').forEach((tab) => {
      const on = tab.dataset.tab === name;
      tab.classList.toggle('active', on);
      tab.setAttribute('aria-selected', on ? 'true' : 'false');
      document.getElementById(`panel-${tab.dataset.tab}`).classList.toggle('d-none', !on);
    });
  }

  root.querySelectorAll('[role=tab]').forEach((tab) => tab.addEventListener('click', () => showTab(tab.dataset.tab)));
  document.getElementById('validate-button').addEventListener('click', () => validate());
  document.getElementById('deploy-button').addEventListener('click', () => deploy());
  const saveButton = document.getElementById('save-button');
  if (saveButton) saveButton.addEventListener('click', () => save());
  document.getElementById('discard-button').addEventListener('click', () => discard());
  document.getElementById('download-button').addEventListener('click', () => download());
  document.getElementById('import-file').addEventListener('change', (e) => importFile(e.target));

  /* Edits live only in the page until saved or deployed: warn before leaving with some. */
  let unsaved = false;
  modeler.on('commandStack.changed', ({ trigger }) => { if (trigger !== 'clear') unsaved = true; });
  window.FormFiles.onChange(() => { unsaved = true; });
  window.addEventListener('beforeunload', (event) => {
    if (!unsaved) return;
    event.preventDefault();
    event.returnValue = '';
  });

  const start = JSON.parse(document.getElementById('editor-bundle').textContent);
  window.FormFiles.load(start.forms);
  openDiagram(start.bpmn)
    .then(() => { root.dataset.ready = 'true'; })
    .catch((err) => {
      root.dataset.ready = 'error';
      say('danger', fmt(T.cannotOpen, { error: err.message || err }));
    });

  // For the browser tests and the curious: the modeler instance.
  window.modelEditor = { modeler, validate, deploy, save, discard, openDiagram };
})();
