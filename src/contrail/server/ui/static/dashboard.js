// Dashboard charts: uPlot over the JSON the page embeds (#dashboard-data). No network calls; every
// label comes from data and is drawn on a canvas or set as text, never parsed as HTML.
(function () {
  "use strict";
  var source = document.getElementById("dashboard-data");
  if (!source || typeof uPlot === "undefined") return;
  var data = JSON.parse(source.textContent);
  var palette = ["#4f7cff", "#ff8a3d", "#2bb673", "#c757d8", "#e5484d", "#12a5b8", "#a0a000", "#7a5cff"];

  function plot(id, names, columns, opts) {
    var el = document.getElementById("chart-" + id);
    if (!el) return;
    if (!data.x.length) {
      el.textContent = "No data in this range.";
      el.classList.add("empty");
      return;
    }
    var series = [{}].concat(names.map(function (name, i) {
      return { label: name, stroke: palette[i % palette.length], width: 1.5,
               fill: opts && opts.fill ? palette[i % palette.length] + "55" : undefined,
               spanGaps: true };
    }));
    var chart = new uPlot({
      width: Math.max(el.clientWidth, 280), height: 200, series: series,
      scales: { x: { time: true } }, legend: { live: false },
      axes: [{}, { size: 60 }]
    }, [data.x].concat(columns), el);
    el.dataset.rendered = String(columns[0].length);
    window.addEventListener("resize", function () {
      chart.setSize({ width: Math.max(el.clientWidth, 280), height: 200 });
    });
  }

  function stacked(byName) {
    // Cumulative sums drawn as filled lines: the top line is the total, each band one model.
    var names = Object.keys(byName), running = data.x.map(function () { return 0; }), columns = [];
    names.forEach(function (name) {
      running = running.map(function (v, i) { return v + byName[name][i]; });
      columns.push(running.slice());
    });
    return { names: names.reverse(), columns: columns.reverse() };
  }

  function keyed(obj) {
    var names = Object.keys(obj);
    return { names: names, columns: names.map(function (n) { return obj[n]; }) };
  }

  plot("traffic", ["observations"], [data.traffic]);
  var cost = stacked(data.cost);
  plot("cost", cost.names, cost.columns, { fill: true });
  var tokens = keyed(data.tokens);
  plot("tokens", tokens.names, tokens.columns);
  var latency = keyed(data.latency);
  plot("latency", latency.names, latency.columns);
  var ttft = keyed(data.ttft);
  plot("ttft", ttft.names, ttft.columns);
  plot("errors", ["error rate %"], [data.errors]);
})();
