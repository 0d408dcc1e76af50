/* The model's files in the editor: forms (JSON Schema + UI schema) with a live preview
   rendered by the server exactly as the task page renders it, model data (*.data.json)
   checked as JSON while typing, and message templates (messages/<name>.<language>.txt, plain
   text the server checks when validating). Plain browser script; the modeler reads the files
   through window.FormFiles when it validates or deploys. */
(function () {
  'use strict';

  const DATA_SUFFIX = '.data.json';
  const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,100}\.json$/;
  const MESSAGES = 'messages/';
  const MESSAGE_NAME = /^messages\/[A-Za-z0-9][A-Za-z0-9_\-]{0,80}\.[a-z]{2}\.txt$/;
  const root = document.getElementById('model-editor');
  const T = JSON.parse(document.getElementById('editor-text').textContent);
  const files = {}; // name → text as the owner typed it
  const listeners = [];

  function fmt(text, values) {
    return text.replace(/\{(\w+)\}/g, (m, k) => (k in values ? String(values[k]) : m));
  }

  function isData(name) { return name.endsWith(DATA_SUFFIX); }
  function isMessage(name) { return name.startsWith(MESSAGES); }
  function kindOf(name) { return isMessage(name) ? 'messages' : (isData(name) ? 'data' : 'forms'); }

  // The UI schema that goes with a form, and the form a UI schema belongs to.
  function uiFor(name) { return name.replace(/(\.schema)?\.json$/, '.uischema.json'); }
  function schemaFor(name) { return name.replace(/\.uischema\.json$/, '.schema.json'); }

  function parse(name) {
    if (isMessage(name)) return { value: files[name] };
    try { return { value: JSON.parse(files[name]) }; } catch (err) { return { error: err.message }; }
  }

  function changed() { listeners.forEach((fn) => fn()); }

  /* One panel: a file list, a text area and either a preview (forms), a check (data) or
     nothing (messages: the server checks them when the model is validated). */
  function FilePanel(panel, kind) {
    const wantData = kind === 'data';
    const wantMessages = kind === 'messages';
    const list = panel.querySelector('.file-list');
    const text = panel.querySelector('textarea.file-text');
    const error = panel.querySelector('.file-error');
    const nameInput = panel.querySelector('.file-name');
    const preview = panel.querySelector('.file-preview');
    // The preview is a real form (Enter in a field submits it); it must never leave the editor.
    if (preview) preview.addEventListener('submit', (event) => event.preventDefault());
    let current = null;
    let timer = null;
    let request = 0;

    function names() { return Object.keys(files).filter((n) => kindOf(n) === kind).sort(); }

    function render() {
      list.innerHTML = '';
      names().forEach((name) => {
        const item = document.createElement('button');
        item.type = 'button';
        item.className = 'list-group-item list-group-item-action' + (name === current ? ' active' : '');
        item.dataset.file = name;
        item.textContent = name;
        if (parse(name).error) item.classList.add('list-group-item-danger');
        item.addEventListener('click', () => open(name));
        list.appendChild(item);
      });
      text.disabled = current === null;
    }

    function open(name) {
      current = name;
      text.value = name === null ? '' : files[name];
      if (name !== null) nameInput.value = name;
      render();
      check(true);
    }

    function showError(message) {
      error.textContent = message || '';
      error.classList.toggle('d-none', !message);
    }

    function check(now) {
      if (wantData && now) feeTable(null);
      if (current === null) { showError(''); if (preview) preview.innerHTML = ''; return; }
      if (wantMessages) { showError(''); return; }
      const parsed = parse(current);
      if (parsed.error) {
        showError(fmt(T.invalidJson, { file: current, error: parsed.error }));
        return;
      }
      if (wantData) {
        showError('');
        panel.querySelector('.file-ok').classList.remove('d-none');
        if (now) feeTable(parsed.value);
        return;
      }
      showError('');
      clearTimeout(timer);
      timer = setTimeout(updatePreview, now ? 0 : 300); // wait for a pause in typing
    }

    async function updatePreview() {
      const isUi = current.endsWith('.uischema.json');
      const schemaName = isUi ? schemaFor(current) : current;
      const uiName = isUi ? current : uiFor(current);
      if (!(schemaName in files)) { showError(fmt(T.noSchemaForUi, { file: schemaName })); return; }
      const schema = parse(schemaName);
      const ui = uiName in files ? parse(uiName) : { value: {} };
      if (schema.error || ui.error) {
        showError(fmt(T.invalidJson, { file: schema.error ? schemaName : uiName, error: schema.error || ui.error }));
        return;
      }
      const mine = ++request;
      preview.classList.add('loading');
      try {
        const response = await fetch(root.dataset.previewUrl, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRFToken': root.dataset.csrf },
          body: JSON.stringify({ schema: schema.value, ui: ui.value }),
        });
        const body = await response.json();
        if (mine !== request) return; // a later edit has asked again
        if (response.ok) {
          preview.innerHTML = body.html;
          preview.dataset.file = schemaName;
          showError('');
        } else {
          showError(body.error);
        }
      } catch (err) {
        if (mine === request) showError(T.offline);
      } finally {
        if (mine === request) preview.classList.remove('loading');
      }
    }

    /* A friendlier view of a fee schedule ({currency, member_types: {type: {label, amount}}}):
       amounts and labels in a table that writes back into the JSON text. */
    function feeTable(data) {
      const box = panel.querySelector('.data-table');
      if (!box) return;
      box.innerHTML = '';
      const types = data && typeof data === 'object' ? data.member_types : null;
      const write = () => {
        files[current] = JSON.stringify(data, null, 2);
        text.value = files[current];
        changed();
      };
      const input = (value, kind, onChange, label) => {
        const node = document.createElement('input');
        node.className = 'form-control form-control-sm';
        node.type = kind;
        node.value = value === undefined || value === null ? '' : value;
        node.setAttribute('aria-label', label);
        if (kind === 'number') { node.min = '0'; node.step = 'any'; }
        node.addEventListener('change', () => onChange(node.value));
        return node;
      };
      if (!types || typeof types !== 'object' || Array.isArray(types)) {
        settingsForm(data, box, write, input);
        return;
      }
      const table = document.createElement('table');
      table.className = 'table table-sm align-middle mb-1';
      table.innerHTML = `<caption class="caption-top">${T.feeTable}</caption><thead><tr><th></th><th>${T.feeLabel}</th><th>${T.feeAmount}</th></tr></thead>`;
      const body = document.createElement('tbody');
      Object.entries(types).forEach(([type, entry]) => {
        if (!entry || typeof entry !== 'object') return;
        const row = document.createElement('tr');
        row.dataset.memberType = type;
        const cells = [document.createElement('code'),
          input(entry.label, 'text', (v) => { entry.label = v; write(); }, T.feeLabel),
          input(entry.amount, 'number', (v) => { entry.amount = v === '' ? v : Number(v); write(); }, T.feeAmount)];
        cells[0].textContent = type;
        cells.forEach((c) => { const td = document.createElement('td'); td.appendChild(c); row.appendChild(td); });
        body.appendChild(row);
      });
      table.appendChild(body);
      box.appendChild(table);
      if ('currency' in data) {
        const label = document.createElement('label');
        label.className = 'form-label small mb-0';
        label.textContent = T.feeCurrency;
        box.appendChild(label);
        box.appendChild(input(data.currency, 'text', (v) => { data.currency = v; write(); }, T.feeCurrency));
      }
    }

    /* Model settings (a flat object of numbers and texts, e.g. settings.data.json: notice and
       voting periods, the voting rule): one labelled field per setting, written back into the
       JSON text, so nobody edits a script or JSON to change a period. */
    function settingsForm(data, box, write, input) {
      if (!data || typeof data !== 'object' || Array.isArray(data)) return;
      const entries = Object.entries(data);
      if (!entries.length || entries.some(([, v]) => v !== null && typeof v === 'object')) return;
      const form = document.createElement('div');
      form.className = 'settings-form';
      entries.forEach(([key, value]) => {
        const row = document.createElement('div');
        row.className = 'mb-2';
        const label = document.createElement('label');
        label.className = 'form-label small mb-0';
        label.textContent = key;
        const kind = typeof value === 'number' ? 'number' : 'text';
        const field = input(value, kind, (v) => {
          data[key] = kind === 'number' ? (v === '' ? v : Number(v)) : v;
          write();
        }, key);
        field.dataset.setting = key;
        field.id = `setting-${key}`;
        label.htmlFor = field.id; // the label names its field for screen readers and clicks
        row.appendChild(label);
        row.appendChild(field);
        form.appendChild(row);
      });
      box.appendChild(form);
    }

    text.addEventListener('input', () => {
      if (current === null) return;
      files[current] = text.value;
      if (wantData) {
        panel.querySelector('.file-ok').classList.add('d-none');
        clearTimeout(timer);
        timer = setTimeout(() => { const p = parse(current); if (!p.error) feeTable(p.value); }, 300);
      }
      const wasBad = list.querySelector(`[data-file="${CSS.escape(current)}"]`).classList.contains('list-group-item-danger');
      if (wasBad !== Boolean(parse(current).error)) render();
      check(false);
      changed();
    });

    function wantedName() {
      let name = nameInput.value.trim();
      if (wantMessages) {
        if (!isMessage(name)) name = MESSAGES + name;
        if (!MESSAGE_NAME.test(name)) { showError(T.badMessageName); return null; }
        if (name in files) { showError(fmt(T.fileExists, { file: name })); return null; }
        return name;
      }
      if (wantData && !isData(name)) name = name.replace(/\.json$/, '') + DATA_SUFFIX;
      if (!wantData && !name.endsWith('.json')) name += '.json';
      if (!NAME.test(name) || (!wantData && isData(name))) { showError(T.badFileName); return null; }
      if (name in files) { showError(fmt(T.fileExists, { file: name })); return null; }
      return name;
    }

    panel.querySelector('.file-add').addEventListener('click', () => {
      const name = wantedName();
      if (name === null) return;
      if (wantMessages) files[name] = T.newMessage;
      else files[name] = wantData ? '{}\n' : JSON.stringify({ type: 'object', title: '', properties: {} }, null, 2);
      open(name);
      changed();
    });
    panel.querySelector('.file-rename').addEventListener('click', () => {
      if (current === null) return;
      const name = wantedName();
      if (name === null) return;
      files[name] = files[current];
      delete files[current];
      open(name);
      changed();
    });
    panel.querySelector('.file-delete').addEventListener('click', () => {
      if (current === null) return;
      delete files[current];
      open(names()[0] || null);
      changed();
    });

    this.start = function () { open(names()[0] || null); };
    this.refresh = function () { if (current !== null && !(current in files)) open(names()[0] || null); else render(); };
    this.show = function (name) { open(name); };
  }

  const panels = [
    new FilePanel(document.getElementById('panel-forms'), 'forms'),
    new FilePanel(document.getElementById('panel-data'), 'data'),
    new FilePanel(document.getElementById('panel-messages'), 'messages'),
  ];
  const KINDS = ['forms', 'data', 'messages'];

  window.FormFiles = {
    /* Replace every file (a bundle was opened). */
    load(forms) {
      Object.keys(files).forEach((k) => delete files[k]);
      Object.entries(forms || {}).forEach(([name, value]) => {
        files[name] = isMessage(name) && typeof value === 'string' ? value : JSON.stringify(value, null, 2);
      });
      panels.forEach((p) => p.start());
    },
    names() { return Object.keys(files).sort(); },
    /* The files as JSON values, or the first file that is not valid JSON. */
    collect() {
      const forms = {};
      for (const name of Object.keys(files).sort()) {
        const parsed = parse(name);
        if (parsed.error) return { error: fmt(T.invalidJson, { file: name, error: parsed.error }), file: name };
        forms[name] = parsed.value;
      }
      return { forms };
    },
    open(name) {
      const kind = kindOf(name);
      panels[KINDS.indexOf(kind)].show(name);
      return kind;
    },
    onChange(fn) { listeners.push(fn); },
  };
})();
