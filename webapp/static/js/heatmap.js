/* The heatmap: the version's diagram (bpmn-js NavigatedViewer) with, on each counted step, a
 * badge of the cases there now and the median time, both read from the table beside it so
 * the two cannot disagree; the step's fill grows darker with its share of the cases. */
(function () {
  'use strict';

  async function show(section) {
    const status = section.querySelector('.diagram-status');
    try {
      const response = await fetch(section.dataset.bpmnUrl, { credentials: 'same-origin' });
      if (!response.ok) {
        throw new Error('HTTP ' + response.status);
      }
      const viewer = new window.BpmnJS({ container: section.querySelector('.diagram-canvas') });
      await viewer.importXML(await response.text());
      const canvas = viewer.get('canvas');
      const registry = viewer.get('elementRegistry');
      const overlays = viewer.get('overlays');
      const rows = Array.from(document.querySelectorAll('#heatmap-table tbody tr[data-element]'));
      const most = Math.max(1, ...rows.map(function (row) {
        return Number(row.querySelector('.heat-now').dataset.value);
      }));
      let drawn = 0;
      let busiest = null;
      let busiestCount = 0;
      rows.forEach(function (row) {
        const id = row.dataset.element;
        if (!registry.get(id)) {
          return;
        }
        const now = Number(row.querySelector('.heat-now').dataset.value);
        const median = row.querySelector('.heat-median').textContent.trim();
        // Five shades: none, then by quarter of the busiest step's count.
        const level = now === 0 ? 0 : Math.min(4, Math.ceil((now / most) * 4));
        canvas.addMarker(id, 'heat-' + level);
        const badge = document.createElement('div');
        badge.className = 'heat-badge heat-badge-' + level;
        badge.dataset.element = id;
        const count = document.createElement('span');
        count.className = 'heat-count';
        count.textContent = String(now);
        const time = document.createElement('span');
        time.className = 'heat-time';
        time.textContent = median;
        badge.append(count, time);
        overlays.add(id, 'heatmap', { position: { top: -14, right: 14 }, html: badge });
        drawn += 1;
        if (now > busiestCount) {
          busiest = registry.get(id);
          busiestCount = now;
        }
      });
      const fit = function () { canvas.zoom('fit-viewport', 'auto'); };
      fit();
      // The whole procedure is wide: open readable, on the step where most cases are.
      if (busiest && canvas.zoom() < 0.8) {
        canvas.zoom(0.8);
        canvas.scrollToElement(busiest, { top: 120, bottom: 120, left: 200, right: 200 });
      }
      section.querySelector('.diagram-fit').addEventListener('click', fit);
      section.dataset.overlays = String(drawn);
      section.dataset.ready = 'true';
    } catch (error) {
      status.textContent = section.dataset.errorText;
      status.hidden = false;
      section.dataset.ready = 'error';
      console.error('heatmap:', error);
    }
  }

  document.querySelectorAll('[data-bpmn-url]').forEach(show);
})();
