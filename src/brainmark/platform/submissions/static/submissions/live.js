// Keeps a submission's page current while it is in progress: every few seconds it asks
// the API (with the page's session) for the submission and updates the status, the stages,
// the jobs, the scores and the logs in place. Once the submission reaches a final status it
// stops asking and reloads the page once, which then shows the final state (problems, why it
// failed, the models it brought) without a script. Values are set as text, never as HTML.
(function () {
  "use strict";
  var root = document.getElementById("submission");
  if (!root) { return; }
  var url = root.dataset.api;
  if (!url) { return; }  // a finished submission does not change
  var period = 3000;

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

  function modelCell(row) {
    return row.model === null
      ? cell("a private model", "muted")
      : link("/models/" + encodeURIComponent(row.model) + "/", row.model, row.model_version);
  }

  function benchmarkCell(row) {
    return link("/benchmarks/" + encodeURIComponent(row.benchmark) + "/", row.benchmark,
                row.benchmark_version);
  }

  function number(value, digits) {
    return value === null ? "" : value.toFixed(digits);
  }

  function showTable(tableId, bodyId, noneId, rows, render) {
    var body = document.getElementById(bodyId);
    if (!body || !rows.length) { return; }
    document.getElementById(tableId).hidden = false;
    var none = document.getElementById(noneId);
    if (none) { none.hidden = true; }
    body.textContent = "";
    rows.forEach(function (item) { body.appendChild(render(item)); });
  }

  function jobRow(job) {
    var row = document.createElement("tr");
    row.appendChild(modelCell(job));
    row.appendChild(benchmarkCell(job));
    row.appendChild(cell(job.status_display, "status-" + job.status));
    row.appendChild(cell(String(job.attempts), "num"));
    row.appendChild(cell(job.worker));
    var failure = job.failure_kind
      ? job.failure_kind_display + (job.failure_reason ? ": " + job.failure_reason : "")
      : "";
    row.appendChild(cell(failure, "failure"));
    row.appendChild(cell(job.wall_seconds === null ? "" : number(job.wall_seconds, 1) + " s",
                         "num"));
    row.appendChild(cell(utc(job.updated), "nowrap"));
    return row;
  }

  function scoreRow(score) {
    var row = document.createElement("tr");
    row.appendChild(modelCell(score));
    row.appendChild(benchmarkCell(score));
    row.appendChild(cell(number(score.ceiled, 3), "num"));
    row.appendChild(cell(number(score.raw, 3), "num"));
    row.appendChild(cell(number(score.error, 3), "num"));
    row.appendChild(cell(score.comment));
    return row;
  }

  function showStages(stages) {
    var list = document.getElementById("stage-list");
    if (!list) { return; }
    list.textContent = "";
    stages.forEach(function (stage) {
      var item = document.createElement("li");
      item.className = "stage " + (stage.reached ? "reached" : "ahead") +
        (stage.current ? " current status-" + stage.status : "");
      item.dataset.status = stage.status;
      var label = document.createElement("span");
      label.className = "stage-label";
      label.textContent = stage.label;
      var time = document.createElement("span");
      time.className = "stage-time muted";
      time.textContent = stage.time ? utc(stage.time) : (stage.reached ? "" : "not yet");
      item.appendChild(label);
      item.appendChild(document.createTextNode(" "));
      item.appendChild(time);
      list.appendChild(item);
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

  function showJobLogs(jobs) {
    var box = document.getElementById("job-logs");
    if (!box) { return; }
    box.textContent = "";
    jobs.forEach(function (job) {
      if (!job.log) { return; }
      var title = document.createElement("h3");
      title.textContent = "Job #" + job.id + ": " +
        (job.model === null ? "a private model" : job.model) + " on " + job.benchmark;
      var pre = document.createElement("pre");
      pre.className = "log job-log";
      pre.textContent = job.log;
      box.appendChild(title);
      box.appendChild(pre);
    });
  }

  function poll() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (submission) {
        if (!submission) { return; }
        if (submission.final) {
          window.location.reload();  // the final page holds everything, without this script
          return;
        }
        var status = document.getElementById("submission-status");
        status.textContent = submission.status_display;
        status.className = "status-" + submission.status;
        document.getElementById("submission-updated").textContent = utc(submission.updated);
        showStages(submission.stages);
        var progress = document.getElementById("job-progress");
        if (progress && submission.progress.total) {
          progress.hidden = false;
          progress.textContent = submission.progress.finished + " of " +
            submission.progress.total + " finished.";
        }
        showTable("job-table", "job-rows", "no-jobs", submission.jobs, jobRow);
        showTable("score-table", "score-rows", "no-scores", submission.scores, scoreRow);
        showLog(submission.log);
        showJobLogs(submission.jobs);
        window.setTimeout(poll, period);
      })
      .catch(function () { window.setTimeout(poll, period * 4); });
  }

  window.setTimeout(poll, period);
}());
