// The dashboard's charts, each drawn from the table beside it: the numbers a chart shows are
// the table's, so the two cannot disagree. No inline script: the page's CSP forbids it.
(function () {
  "use strict";
  if (!window.echarts) { return; }
  document.querySelectorAll(".dash-figure").forEach(function (figure) {
    var box = figure.querySelector(".dash-chart");
    if (!box) { return; }
    var valueColumn = parseInt(figure.dataset.valueColumn || "1", 10);
    var labels = [], values = [];
    figure.querySelectorAll(".dash-table tbody tr").forEach(function (row) {
      var cells = row.querySelectorAll("td");
      if (cells.length <= valueColumn) { return; }
      var label = [];
      for (var i = 0; i < valueColumn; i++) { label.push(cells[i].textContent.trim()); }
      labels.push(label.join(" · "));
      values.push(Number(cells[valueColumn].dataset.value || cells[valueColumn].textContent));
    });
    var kind = figure.dataset.chart;
    // Bars and a funnel's layers grow with their number (ten stages in 240 px overlapped
    // their labels); a line keeps one height.
    var rows = kind === "line" ? 6 : labels.length;
    box.style.height = Math.max(240, Math.min(480, 40 + rows * 32)) + "px";
    var chart = window.echarts.init(box, null, { renderer: "svg" });
    var option;
    if (kind === "funnel") {
      option = {
        tooltip: { trigger: "item" },
        series: [{
          type: "funnel", sort: "none", left: "10%", width: "80%", top: 10, bottom: 10,
          label: { show: true, position: "inside", formatter: "{b}: {c}" },
          data: labels.map(function (name, i) { return { name: name, value: values[i] }; })
        }]
      };
    } else {
      var horizontal = kind !== "line";
      // Every bar is named; a line's months may skip labels rather than overlap on a phone.
      var category = {
        type: "category", data: labels,
        axisLabel: horizontal ? { interval: 0 } : { hideOverlap: true }
      };
      var value = { type: "value", minInterval: 1 };
      // A rate reads against its whole (100 %), not against its own largest value.
      if (figure.dataset.valueMax) { value.max = Number(figure.dataset.valueMax); }
      option = {
        tooltip: { trigger: "axis" },
        grid: { left: horizontal ? 140 : 40, right: 20, top: 20, bottom: 30 },
        xAxis: horizontal ? value : category,
        yAxis: horizontal ? Object.assign({ inverse: true }, category) : value,
        series: [{ type: kind === "line" ? "line" : "bar", data: values, label: { show: horizontal, position: "right" } }]
      };
    }
    // Drawn at once: what the page shows (and a screenshot takes) is the final chart.
    option.animation = false;
    chart.setOption(option);
    box.dataset.rendered = String(values.length);
    window.addEventListener("resize", function () { chart.resize(); });
  });
})();
