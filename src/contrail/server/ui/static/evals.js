// Experiments page: quality-vs-cost scatter with the Pareto front, drawn by uPlot from the JSON the page
// embeds (#pareto-data). Names are only drawn as chart text, never parsed as HTML.
(function () {
  "use strict";
  var source = document.getElementById("pareto-data");
  var el = document.getElementById("pareto-chart");
  var picker = document.getElementById("pareto-metric");
  if (!source || !el || !picker || typeof uPlot === "undefined") return;
  var rows = JSON.parse(source.textContent);
  var chart = null;

  function draw() {
    var metric = picker.value;
    var points = rows.filter(function (r) { return r.cost !== null && r.means[metric] !== null; })
      .sort(function (a, b) { return a.cost - b.cost; });
    if (chart) chart.destroy();
    el.textContent = "";
    if (points.length < 2) {
      el.textContent = "At least two experiments with a cost and a " + metric + " score are needed.";
      return;
    }
    var xs = points.map(function (r) { return r.cost; });
    var ys = points.map(function (r) { return r.means[metric]; });
    var front = points.map(function (r) { return r.front[metric] ? r.means[metric] : null; });
    chart = new uPlot({
      width: Math.max(el.clientWidth, 320), height: 260, legend: { live: false },
      scales: { x: { time: false } },
      axes: [{ label: "cost (USD)" }, { label: metric, size: 60 }],
      series: [
        { label: "cost" },
        { label: "experiments", stroke: "#4f7cff", width: 0, paths: function () { return null; },
          points: { show: true, size: 9, fill: "#4f7cff" } },
        { label: "Pareto front", stroke: "#2bb673", width: 2, spanGaps: true, points: { show: false } }
      ]
    }, [xs, ys, front], el);
    el.dataset.rendered = String(points.length);
    el.title = points.map(function (r) { return r.name + ": $" + r.cost + ", " + r.means[metric]; }).join("\n");
  }

  picker.addEventListener("change", draw);
  draw();
})();
