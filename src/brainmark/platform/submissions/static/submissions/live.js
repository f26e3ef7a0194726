// Keeps a submission's page current while it is in progress: every few seconds it asks
// the API (with the page's session) for the submission and updates the status, the log and
// the jobs in place. It stops once the submission reaches a final status. Values are set
// as text, never as HTML.
(function () {
  "use strict";
  var root = document.getElementById("submission");
  if (!root) { return; }
  var url = root.dataset.api;
  if (!url) { return; }  // a finished submission does not change
  var period = 5000;

  // "2026-05-01T12:00:00.123Z" (the API's UTC times) as the page writes them.
  function utc(time) {
    return time.replace("T", " ").slice(0, 19) + " UTC";
  }

  function cell(text, className) {
    var td = document.createElement("td");
    td.textContent = text;
    if (className) { td.className = className; }
    return td;
  }

  function link(href, text, version) {
    var td = document.createElement("td");
    var a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    var muted = document.createElement("span");
    muted.className = "muted";
    muted.textContent = " v" + version;
    td.appendChild(a);
    td.appendChild(muted);
    return td;
  }

  function showJobs(jobs) {
    var body = document.getElementById("job-rows");
    if (!body || !jobs.length) { return; }
    document.getElementById("job-table").hidden = false;
    var none = document.getElementById("no-jobs");
    if (none) { none.hidden = true; }
    body.textContent = "";
    jobs.forEach(function (job) {
      var row = document.createElement("tr");
      row.appendChild(job.model === null
        ? cell("a private model", "muted")
        : link("/models/" + encodeURIComponent(job.model) + "/", job.model, job.model_version));
      row.appendChild(link("/benchmarks/" + encodeURIComponent(job.benchmark) + "/",
                           job.benchmark, job.benchmark_version));
      row.appendChild(cell(job.status_display, "status-" + job.status));
      row.appendChild(cell(String(job.attempts), "num"));
      row.appendChild(cell(utc(job.updated), "nowrap"));
      body.appendChild(row);
    });
  }

  function showLog(text) {
    var log = document.getElementById("log-text");
    if (!log) { return; }
    var atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    log.textContent = text;
    log.hidden = !text;
    var none = document.getElementById("no-log");
    if (none) { none.hidden = Boolean(text); }
    if (atEnd) { log.scrollTop = log.scrollHeight; }
  }

  function poll() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (submission) {
        if (!submission) { return; }
        var status = document.getElementById("submission-status");
        status.textContent = submission.status_display;
        status.className = "status-" + submission.status;
        document.getElementById("submission-updated").textContent = utc(submission.updated);
        showLog(submission.log);
        showJobs(submission.jobs);
        if (submission.final) {
          var note = document.getElementById("live-note");
          if (note) { note.textContent = "(finished: reload for the models it brought)"; }
          return;
        }
        window.setTimeout(poll, period);
      })
      .catch(function () { window.setTimeout(poll, period * 4); });
  }

  window.setTimeout(poll, period);
}());
