/* The properties form beside the canvas: for the selected element, what the engine reads
   (names; forms and other spiffworkflow properties of user tasks; scripts; conditions and
   default flows; timers; multi-instance settings; lane names), written through bpmn-js's
   modeling so that undo works. Also the moddle descriptor of the spiffworkflow namespace. */
(function () {
  'use strict';

  // What SpiffWorkflow 3.2 reads from its namespace (spiffworkflow.xsd and its parsers). bpmn-js
  // drops elements of a declared namespace that it does not know, so everything is declared.
  const SPIFF_MODDLE = {
    name: 'SpiffWorkflow',
    prefix: 'spiffworkflow',
    uri: 'http://spiffworkflow.org/bpmn/schema/1.0/core',
    associations: [],
    // Type names are capitalised and written with a lower-case first letter, as in bpmn-moddle;
    // the package's setting also applies to bpmn elements our extension extends.
    xml: { tagAlias: 'lowerCase' },
    types: [
      { name: 'Properties', superClass: ['Element'], properties: [{ name: 'properties', type: 'Property', isMany: true }] },
      { name: 'Property', superClass: ['Element'], properties: [
        { name: 'name', isAttr: true, type: 'String' }, { name: 'value', isAttr: true, type: 'String' }] },
      ...['PreScript', 'PostScript', 'InstructionsForEndUser', 'CalledDecisionId', 'MessagePayload',
        'MessageVariable', 'PayloadExpression', 'VariableName', 'PropertyId', 'Expression',
        'InputJson', 'ExpectedOutputJson'].map((name) => (
        { name, superClass: ['Element'], properties: [{ name: 'value', isBody: true, type: 'String' }] })),
      { name: 'UnitTests', superClass: ['Element'], properties: [{ name: 'unitTests', type: 'UnitTest', isMany: true }] },
      { name: 'UnitTest', superClass: ['Element'], properties: [
        { name: 'id', isAttr: true, type: 'String' },
        { name: 'inputJson', type: 'InputJson' }, { name: 'expectedOutputJson', type: 'ExpectedOutputJson' }] },
      { name: 'ServiceTaskOperator', superClass: ['Element'], properties: [
        { name: 'id', isAttr: true, type: 'String' }, { name: 'resultVariable', isAttr: true, type: 'String' },
        { name: 'parameters', type: 'Parameters' }, { name: 'retry', type: 'Retry' }] },
      { name: 'Parameters', superClass: ['Element'], properties: [{ name: 'parameters', type: 'Parameter', isMany: true }] },
      { name: 'Parameter', superClass: ['Element'], properties: [
        { name: 'id', isAttr: true, type: 'String' }, { name: 'type', isAttr: true, type: 'String' },
        { name: 'value', isAttr: true, type: 'String' }] },
      { name: 'Retry', superClass: ['Element'], properties: [
        { name: 'retries', isAttr: true, type: 'String' }, { name: 'backoff_base', isAttr: true, type: 'String' }] },
      { name: 'ProcessVariableCorrelation', superClass: ['Element'], properties: [
        { name: 'propertyId', type: 'PropertyId' }, { name: 'expression', type: 'Expression' }] },
      { name: 'TaskMetadataValues', superClass: ['Element'], properties: [{ name: 'values', type: 'TaskMetadataValue', isMany: true }] },
      { name: 'TaskMetadataValue', superClass: ['Element'], properties: [
        { name: 'name', isAttr: true, type: 'String' }, { name: 'value', isAttr: true, type: 'String' }] },
      { name: 'MultiInstanceScripts', extends: ['bpmn:MultiInstanceLoopCharacteristics'], properties: [
        { name: 'scriptsOnInstances', isAttr: true, type: 'Boolean' }] },
    ],
  };

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k === 'text') node.textContent = v;
      else if (k === 'class') node.className = v;
      else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? '' : v);
    });
    (children || []).forEach((c) => c && node.appendChild(c));
    return node;
  }

  /* Wire the form to a modeler; returns what the editor needs of it. */
  function attach(modeler, panel, T, OPTIONS) {
    const modeling = modeler.get('modeling');
    const moddle = modeler.get('moddle');
    const eventBus = modeler.get('eventBus');

    /* SpiffWorkflow names a multi-instance collection by variable; BPMN makes it a reference
       to an element, so it is kept as a stand-in element whose id is the variable name. */
    function variableRef(name) {
      return name ? moddle.create('bpmn:ItemAwareElement', { id: name }) : undefined;
    }

    /* --- Reading and writing what the engine needs -------------------------------------------- */
    const is = (bo, type) => bo && typeof bo.$instanceOf === 'function' && bo.$instanceOf(type);

    function extension(bo, type) {
      const ext = bo.extensionElements;
      return ext ? (ext.values || []).find((v) => v.$type === type) : undefined;
    }

    /* Put `value` (a moddle element, or nothing to remove it) in the element's extensions, in
       place of the one of the same type, through modeling so that undo works. */
    function setExtension(element, type, value) {
      const bo = element.businessObject;
      let ext = bo.extensionElements;
      if (!ext) {
        if (!value) return;
        ext = moddle.create('bpmn:ExtensionElements', { values: [value] });
        value.$parent = ext;
        modeling.updateProperties(element, { extensionElements: ext });
        return;
      }
      const values = ext.values || [];
      const at = values.findIndex((v) => v.$type === type);
      const next = values.slice();
      if (value) value.$parent = ext;
      if (at >= 0 && value) next[at] = value;
      else if (at >= 0) next.splice(at, 1);
      else if (value) next.push(value);
      modeling.updateModdleProperties(element, ext, { values: next });
    }

    function spiffProperties(bo) {
      const props = extension(bo, 'spiffworkflow:Properties');
      return props ? (props.properties || []).map((p) => ({ name: p.name || '', value: p.value || '' })) : [];
    }

    function setSpiffProperties(element, list) {
      const kept = list.filter((p) => p.name.trim() !== '');
      const value = kept.length
        ? moddle.create('spiffworkflow:Properties', {
          properties: kept.map((p) => moddle.create('spiffworkflow:Property', { name: p.name.trim(), value: p.value })),
        })
        : undefined;
      if (value) value.properties.forEach((p) => { p.$parent = value; });
      setExtension(element, 'spiffworkflow:Properties', value);
    }

    function setSpiffProperty(element, name, value) {
      const list = spiffProperties(element.businessObject);
      const found = list.find((p) => p.name === name);
      if (found) found.value = value;
      else list.push({ name, value });
      setSpiffProperties(element, list.filter((p) => p.name !== name || p.value !== ''));
    }

    function setText(element, type, text) {
      setExtension(element, type, text.trim() ? moddle.create(type, { value: text }) : undefined);
    }

    function expression(text) {
      return text.trim() ? moddle.create('bpmn:FormalExpression', { body: text }) : undefined;
    }

    function timerOf(bo) {
      return (bo.eventDefinitions || []).find((d) => is(d, 'bpmn:TimerEventDefinition'));
    }

    /* --- The properties form ------------------------------------------------------------------- */
    const USER_TASK_FIELDS = ['formJsonSchemaFilename', 'formUiSchemaFilename', 'stage', 'dueDate', 'assignee', 'notify'];
    let shown = null;

    function field(label, name, value, onChange, opts) {
      opts = opts || {};
      const id = `prop-${name}`;
      let input;
      if (opts.multiline) {
        input = el('textarea', { class: 'form-control form-control-sm font-monospace', id, name, rows: opts.rows || 4, spellcheck: 'false' });
        input.value = value || '';
      } else if (opts.choices) {
        input = el('select', { class: 'form-select form-select-sm', id, name });
        opts.choices.forEach(([v, text]) => {
          const option = el('option', { value: v, text });
          if (v === (value || '')) option.selected = true;
          input.appendChild(option);
        });
      } else if (opts.checkbox) {
        input = el('input', { class: 'form-check-input', type: 'checkbox', id, name });
        input.checked = Boolean(value);
        input.addEventListener('change', () => onChange(input.checked));
        return el('div', { class: 'form-check mb-2' }, [input, el('label', { class: 'form-check-label', for: id, text: label })]);
      } else {
        input = el('input', { class: 'form-control form-control-sm', id, name, list: opts.list, autocomplete: 'off' });
        input.value = value || '';
      }
      input.addEventListener('change', () => onChange(input.value));
      return el('div', { class: 'mb-2' }, [el('label', { class: 'form-label small mb-0', for: id, text: label }), input,
        opts.help ? el('div', { class: 'form-text', text: opts.help }) : null]);
    }

    function datalist(id, values) {
      const list = el('datalist', { id });
      values.forEach((v) => list.appendChild(el('option', { value: v })));
      return list;
    }

    function typeLabel(bo) {
      const type = bo.$type.replace(/^bpmn:/, '');
      return T.types[type] || type;
    }

    function renderProperties(element) {
      if (element && element.type === 'label') element = element.labelTarget;
      shown = element || null;
      panel.innerHTML = '';
      if (!element) {
        panel.appendChild(el('p', { class: 'text-muted small', text: T.selectSomething }));
        return;
      }
      const bo = element.businessObject;
      panel.dataset.element = bo.id;
      const parts = [
        el('h2', { class: 'h6', text: typeLabel(bo) }),
        el('p', { class: 'small text-muted mb-2' }, [el('code', { text: bo.id })]),
      ];
      if (!is(bo, 'bpmn:Process')) {
        parts.push(field(T.name, 'name', bo.name, (v) => modeling.updateProperties(element, { name: v || undefined }),
          is(bo, 'bpmn:Lane') ? { list: 'lane-names', help: T.laneHelp } : {}));
      }
      if (is(bo, 'bpmn:Participant') && bo.processRef) {
        parts.push(field(T.executable, 'isExecutable', bo.processRef.isExecutable,
          (v) => modeling.updateModdleProperties(element, bo.processRef, { isExecutable: v }), { checkbox: true }));
      }
      if (is(bo, 'bpmn:UserTask')) parts.push(...userTaskFields(element, bo));
      if (is(bo, 'bpmn:ScriptTask')) {
        parts.push(field(T.script, 'script', bo.script,
          (v) => modeling.updateProperties(element, { script: v, scriptFormat: bo.scriptFormat || 'python' }), { multiline: true, rows: 8 }));
      }
      if (is(bo, 'bpmn:Activity')) {
        parts.push(field(T.preScript, 'preScript', (extension(bo, 'spiffworkflow:PreScript') || {}).value,
          (v) => setText(element, 'spiffworkflow:PreScript', v), { multiline: true, rows: 3 }));
        parts.push(field(T.postScript, 'postScript', (extension(bo, 'spiffworkflow:PostScript') || {}).value,
          (v) => setText(element, 'spiffworkflow:PostScript', v), { multiline: true, rows: 3 }));
        if (is(bo.loopCharacteristics, 'bpmn:MultiInstanceLoopCharacteristics')) parts.push(...multiInstanceFields(element, bo.loopCharacteristics));
      }
      if (is(bo, 'bpmn:SequenceFlow')) parts.push(...flowFields(element, bo));
      if (is(bo, 'bpmn:ExclusiveGateway') || is(bo, 'bpmn:InclusiveGateway')) parts.push(gatewayDefault(element, bo));
      const timer = is(bo, 'bpmn:Event') ? timerOf(bo) : null;
      if (timer) parts.push(...timerFields(element, timer));
      if (is(bo, 'bpmn:FlowNode')) parts.push(otherProperties(element, bo));
      parts.forEach((p) => panel.appendChild(p));
    }

    function userTaskFields(element, bo) {
      const props = Object.fromEntries(spiffProperties(bo).map((p) => [p.name, p.value]));
      const formNames = window.FormFiles.names().filter((n) => !n.endsWith('.data.json'));
      const set = (name) => (v) => setSpiffProperty(element, name, v.trim());
      return [
        datalist('form-names', formNames.filter((n) => !n.endsWith('.uischema.json'))),
        datalist('ui-names', formNames.filter((n) => n.endsWith('.uischema.json'))),
        field(T.form, 'formJsonSchemaFilename', props.formJsonSchemaFilename, set('formJsonSchemaFilename'), { list: 'form-names' }),
        field(T.uiForm, 'formUiSchemaFilename', props.formUiSchemaFilename, set('formUiSchemaFilename'), { list: 'ui-names' }),
        field(T.stage, 'stage', props.stage, set('stage'), { choices: [['', T.none]].concat(OPTIONS.stages) }),
        field(T.dueDate, 'dueDate', props.dueDate, set('dueDate'), { help: T.dueDateHelp }),
        field(T.assignee, 'assignee', props.assignee, set('assignee'), { help: T.assigneeHelp }),
        field(T.notify, 'notify', props.notify, set('notify')),
      ];
    }

    function multiInstanceFields(element, lc) {
      const update = (props) => modeling.updateModdleProperties(element, lc, props);
      const item = (type, name) => (name.trim() ? moddle.create(type, { id: name.trim(), name: name.trim() }) : undefined);
      const ref = (r) => (r ? r.id : '');
      return [
        el('h3', { class: 'h6 mt-3', text: T.multiInstance }),
        field(T.inputCollection, 'loopDataInputRef', ref(lc.loopDataInputRef), (v) => update({ loopDataInputRef: variableRef(v.trim()) })),
        field(T.inputItem, 'inputDataItem', lc.inputDataItem && lc.inputDataItem.name, (v) => update({ inputDataItem: item('bpmn:DataInput', v) })),
        field(T.outputCollection, 'loopDataOutputRef', ref(lc.loopDataOutputRef), (v) => update({ loopDataOutputRef: variableRef(v.trim()) })),
        field(T.outputItem, 'outputDataItem', lc.outputDataItem && lc.outputDataItem.name, (v) => update({ outputDataItem: item('bpmn:DataOutput', v) })),
        field(T.cardinality, 'loopCardinality', lc.loopCardinality && lc.loopCardinality.body, (v) => update({ loopCardinality: expression(v) })),
        field(T.completionCondition, 'completionCondition', lc.completionCondition && lc.completionCondition.body, (v) => update({ completionCondition: expression(v) })),
        field(T.sequential, 'isSequential', lc.isSequential, (v) => update({ isSequential: v }), { checkbox: true }),
        field(T.scriptsOnInstances, 'scriptsOnInstances', lc.get('spiffworkflow:scriptsOnInstances'),
          (v) => update({ 'spiffworkflow:scriptsOnInstances': v || undefined }), { checkbox: true }),
      ];
    }

    function flowFields(element, bo) {
      const gateway = element.source;
      const parts = [field(T.condition, 'conditionExpression', bo.conditionExpression && bo.conditionExpression.body,
        (v) => modeling.updateProperties(element, { conditionExpression: expression(v) }), { multiline: true, rows: 3, help: T.conditionHelp })];
      if (gateway && (is(gateway.businessObject, 'bpmn:ExclusiveGateway') || is(gateway.businessObject, 'bpmn:InclusiveGateway'))) {
        parts.push(field(T.defaultFlow, 'isDefault', gateway.businessObject.default === bo,
          (v) => modeling.updateProperties(gateway, { default: v ? bo : undefined }), { checkbox: true }));
      }
      return parts;
    }

    function gatewayDefault(element, bo) {
      const flows = (bo.outgoing || []).map((f) => [f.id, f.name ? `${f.name} (${f.id})` : f.id]);
      return field(T.defaultFlowOfGateway, 'default', bo.default ? bo.default.id : '', (v) => {
        const flow = (bo.outgoing || []).find((f) => f.id === v);
        modeling.updateProperties(element, { default: flow || undefined });
      }, { choices: [['', T.none]].concat(flows) });
    }

    function timerFields(element, timer) {
      const kinds = ['timeDate', 'timeDuration', 'timeCycle'];
      const kind = kinds.find((k) => timer[k]) || 'timeDate';
      const apply = (k, text) => modeling.updateModdleProperties(element, timer, {
        timeDate: undefined, timeDuration: undefined, timeCycle: undefined, [k]: expression(text),
      });
      const current = () => (timer[kind] && timer[kind].body) || '';
      return [
        el('h3', { class: 'h6 mt-3', text: T.timer }),
        field(T.timerKind, 'timerKind', kind, (k) => apply(k, current()), { choices: kinds.map((k) => [k, T.timerKinds[k]]) }),
        field(T.timerExpression, 'timerExpression', current(),
          (v) => apply(kinds.find((k) => timer[k]) || kind, v), { multiline: true, rows: 2, help: T.timerHelp }),
      ];
    }

    function otherProperties(element, bo) {
      const skip = is(bo, 'bpmn:UserTask') ? USER_TASK_FIELDS : [];
      const list = spiffProperties(bo);
      const table = el('div', { class: 'other-properties' });
      const save = () => setSpiffProperties(element, list);
      list.forEach((p, i) => {
        if (skip.includes(p.name)) return;
        const name = el('input', { class: 'form-control form-control-sm', 'aria-label': T.propertyName, name: `property-name-${i}` });
        const value = el('input', { class: 'form-control form-control-sm', 'aria-label': T.propertyValue, name: `property-value-${i}` });
        name.value = p.name;
        value.value = p.value;
        name.addEventListener('change', () => { p.name = name.value; save(); });
        value.addEventListener('change', () => { p.value = value.value; save(); });
        const remove = el('button', { type: 'button', class: 'btn btn-sm btn-outline-danger', text: '×', title: T.remove, 'aria-label': T.remove });
        remove.addEventListener('click', () => { list.splice(i, 1); save(); renderProperties(element); });
        table.appendChild(el('div', { class: 'input-group input-group-sm mb-1' }, [name, value, remove]));
      });
      const add = el('button', { type: 'button', class: 'btn btn-sm btn-outline-secondary', text: T.addProperty });
      add.addEventListener('click', () => {
        list.push({ name: 'property', value: '' });
        save();
        renderProperties(element);
      });
      return el('div', { class: 'mt-3' }, [el('h3', { class: 'h6', text: T.otherProperties }), table, add]);
    }

    eventBus.on('selection.changed', ({ newSelection }) => renderProperties(newSelection.length === 1 ? newSelection[0] : null));
    eventBus.on('elements.changed', ({ elements }) => {
      // Re-draw the form after undo/redo or canvas edits, but never under the owner's cursor.
      if (shown && elements.includes(shown) && !panel.contains(document.activeElement)) renderProperties(shown);
    });

    return { render: renderProperties, variableRef };
  }

  window.ModelProperties = { SPIFF_MODDLE, attach, el };
})();
