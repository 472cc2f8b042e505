/* Console charts: draws every <canvas data-chart="ID"> from the JSON in
   <script type="application/json" id="ID">, using the vendored Chart.js (window.Chart).
   No inline script is needed, so the pages work under a script-src 'self' policy.

   The JSON is {type: "bar"|"line", title, format: "count"|"percent"|"pence"|"decimal",
   stacked?: bool, labels: [...], datasets: [{label, data: [number|null, ...]}]}.
   The same numbers are always in a table on the page; the charts are a view of them. */
(function () {
  "use strict";

  var PALETTE = ["#2f5d8a", "#c8553d", "#3c8d5a", "#d9a03f", "#7a5195", "#4aa3a2", "#8c6d46", "#e07a9f"];

  function formatter(format) {
    if (format === "percent") {
      return function (value) { return (value * 100).toFixed(Math.abs(value) < 0.01 ? 2 : 1) + "%"; };
    }
    if (format === "pence") {
      // Display only: the page's tables show the exact amounts.
      return function (value) {
        return "£" + (value / 100).toLocaleString("en-GB", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
      };
    }
    if (format === "decimal") {
      return function (value) { return Number(value).toFixed(3); };
    }
    return function (value) { return Number(value).toLocaleString("en-GB"); };
  }

  function config(spec) {
    var format = formatter(spec.format);
    var line = spec.type === "line";
    var datasets = (spec.datasets || []).map(function (dataset, n) {
      var colour = PALETTE[n % PALETTE.length];
      return {
        label: dataset.label,
        data: dataset.data,
        backgroundColor: line ? colour : colour + "cc",
        borderColor: colour,
        borderWidth: line ? 2 : 1,
        pointRadius: line && spec.labels.length > 60 ? 0 : 2,
        spanGaps: false,
        tension: 0.2
      };
    });
    return {
      type: line ? "line" : "bar",
      data: { labels: spec.labels || [], datasets: datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { stacked: Boolean(spec.stacked) },
          y: {
            stacked: Boolean(spec.stacked),
            beginAtZero: true,
            ticks: { callback: function (value) { return format(value); } }
          }
        },
        plugins: {
          legend: { position: "bottom" },
          tooltip: {
            callbacks: {
              label: function (item) {
                var value = item.parsed.y;
                return item.dataset.label + ": " + (value === null ? "—" : format(value));
              }
            }
          }
        }
      }
    };
  }

  function draw() {
    if (typeof window.Chart === "undefined") {
      return; // the tables still show every number
    }
    var canvases = document.querySelectorAll("canvas[data-chart]");
    Array.prototype.forEach.call(canvases, function (canvas) {
      var source = document.getElementById(canvas.getAttribute("data-chart"));
      if (!source) {
        return;
      }
      var spec;
      try {
        spec = JSON.parse(source.textContent);
      } catch (error) {
        return;
      }
      if (!spec.datasets || spec.datasets.length === 0) {
        canvas.parentNode.setAttribute("hidden", "");
        return;
      }
      new window.Chart(canvas, config(spec));
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
