// The submission form: the metric menu offers only the chosen benchmark's metrics. The map of
// benchmark id -> metric ids is the benchmark menu's data-metrics attribute (JSON written by the
// server, escaped); no inline script. The server refuses a metric the benchmark lacks anyway.
(function () {
  "use strict";
  var benchmark = document.getElementById("id_benchmark");
  var metric = document.getElementById("id_metric");
  if (!benchmark || !metric) return;
  var map;
  try {
    map = JSON.parse(benchmark.dataset.metrics || "{}");
  } catch (e) {
    return; // without the map every metric stays on offer
  }
  var placeholder = metric.querySelector("option[value='']");
  var all = Array.prototype.filter.call(metric.options, function (o) {
    return o.value !== "";
  });

  function update() {
    var allowed = map[benchmark.value];
    var chosen = metric.value;
    while (metric.options.length) metric.remove(0);
    if (placeholder) metric.add(placeholder);
    all.forEach(function (o) {
      if (!allowed || allowed.indexOf(o.value) !== -1) metric.add(o);
    });
    var offered = Array.prototype.some.call(metric.options, function (o) {
      return o.value !== "" && o.value === chosen;
    });
    if (offered) metric.value = chosen;
    else if (allowed && allowed.length === 1) metric.value = allowed[0];
    else metric.value = "";
  }

  benchmark.addEventListener("change", update);
  update();
})();
