// Draws the report's charts from the JSON in #chart-data. Labels and values are data, never code: they
// only reach Chart.js, which draws them as text on a canvas.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("chart-data").textContent);
  var style = getComputedStyle(document.body);
  Chart.defaults.font.family = style.fontFamily;
  Chart.defaults.font.size = 12;
  Chart.defaults.color = "#52606d";
  Chart.defaults.borderColor = "#e4e9ef";

  function shortLabel(value) {
    var label = String(this.getLabelForValue(value));
    return label.length > 40 ? label.slice(0, 39) + "\u2026" : label;
  }

  var charts = [];
  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var series = data[canvas.dataset.chart];
    if (!series || series.labels.length === 0) {
      return;
    }
    var horizontal = canvas.dataset.axis === "y";
    if (horizontal) {
      canvas.parentNode.style.height = Math.max(120, 26 * series.labels.length + 40) + "px";
    }
    var count = { beginAtZero: true, ticks: { precision: 0 } };
    var category = { grid: { display: false }, ticks: horizontal ? { callback: shortLabel, autoSkip: false } : { maxRotation: 0 } };
    charts.push(new Chart(canvas, {
      type: "bar",
      data: {
        labels: series.labels,
        datasets: [{ data: series.values, backgroundColor: canvas.dataset.color, borderRadius: 2, maxBarThickness: 32 }]
      },
      options: {
        indexAxis: horizontal ? "y" : "x",
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        plugins: { legend: { display: false } },
        scales: horizontal ? { x: count, y: category } : { x: category, y: count }
      }
    }));
  });

  // Printed, the report shows everything: open every collapsed part and fit the charts to the paper.
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details").forEach(function (d) { d.open = true; });
    charts.forEach(function (c) { c.resize(); });
  });
  document.body.dataset.chartsReady = "1";
})();
