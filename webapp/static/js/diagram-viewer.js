/* Draws an application's diagram with bpmn-js (NavigatedViewer) and marks its progress.
 * The server sends the BPMN text and element id → completed | current | cancelled; the marks are
 * CSS classes (state-…) on the elements, styled in diagram.css and explained by the legend. */
(function () {
  'use strict';

  async function show(section) {
    const status = section.querySelector('.diagram-status');
    try {
      const response = await fetch(section.dataset.diagramUrl, {
        credentials: 'same-origin',
        headers: { Accept: 'application/json' }
      });
      if (!response.ok) {
        throw new Error('HTTP ' + response.status);
      }
      const data = await response.json();
      const viewer = new window.BpmnJS({ container: section.querySelector('.diagram-canvas') });
      await viewer.importXML(data.xml);
      const canvas = viewer.get('canvas');
      const registry = viewer.get('elementRegistry');
      const current = [];
      Object.entries(data.states).forEach(function ([id, state]) {
        const element = registry.get(id);
        if (!element) {
          return;
        }
        canvas.addMarker(id, 'state-' + state);
        if (state === 'current') {
          current.push(element);
        }
      });
      const fit = function () { canvas.zoom('fit-viewport', 'auto'); };
      fit();
      // The whole procedure is wide: open on where the application stands, readable.
      if (current.length && canvas.zoom() < 0.8) {
        canvas.zoom(0.8);
        canvas.scrollToElement(current[0], { top: 120, bottom: 120, left: 200, right: 200 });
      }
      section.querySelector('.diagram-fit').addEventListener('click', fit);
      section.dataset.ready = 'true';
    } catch (error) {
      status.textContent = section.dataset.errorText;
      status.hidden = false;
      section.dataset.ready = 'error';
      console.error('diagram viewer:', error);
    }
  }

  document.querySelectorAll('[data-diagram-url]').forEach(show);
})();
