// Live status of a submission page: polls its JSON status every second until the run ends.
// Text goes in with textContent; the final outcome block comes rendered (escaped) by the server.
(function () {
  "use strict";
  var live = document.getElementById("run-live");
  if (!live) return;
  var logEl = document.getElementById("run-log");
  if (logEl) logEl.scrollTop = logEl.scrollHeight; // a finished run's log shows its last lines
  if (live.dataset.final === "true") return;
  var url = live.dataset.statusUrl;
  var statusEl = document.getElementById("run-status");
  var phaseEl = document.getElementById("run-phase");
  var bar = document.getElementById("run-progress");
  var barText = document.getElementById("run-progress-text");
  var outcome = document.getElementById("run-outcome");
  var queueEl = document.getElementById("run-queue");
  var queuePos = document.getElementById("queue-position");
  var trainingBox = document.getElementById("run-training-box");
  var lastTraining = null;

  function show(d) {
    if (!d.status) return;
    statusEl.textContent = d.status;
    statusEl.className = "run-status run-status-" + d.status;
    // Each state once: no phase beside a final status, nor one that repeats the status.
    phaseEl.textContent = d.is_final || d.phase === d.status ? "" : d.phase || "";
    bar.value = d.progress_percent;
    bar.textContent = d.progress_percent + "%";
    barText.textContent = d.progress_total
      ? d.progress_done + " / " + d.progress_total + " (" + d.progress_percent + "%)"
      : d.progress_percent + "%";
    if (queueEl) {
      queueEl.hidden = !d.queue_position;
      queuePos.textContent = d.queue_position || "";
    }
    // The training's figures and curve come rendered (escaped) by the server, as the outcome.
    if (trainingBox && d.training_html !== undefined && d.training_html !== lastTraining) {
      trainingBox.innerHTML = d.training_html;
      lastTraining = d.training_html;
    }
    if (logEl.textContent !== d.log_tail) {
      logEl.textContent = d.log_tail;
      logEl.scrollTop = logEl.scrollHeight;
    }
    if (d.is_final) {
      outcome.innerHTML = d.outcome_html || "";
      live.dataset.final = "true";
    }
  }

  function poll() {
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then(function (d) {
        show(d);
        if (!d.is_final) setTimeout(poll, 1000);
      })
      .catch(function () {
        setTimeout(poll, 3000);
      });
  }

  setTimeout(poll, 1000);
})();
