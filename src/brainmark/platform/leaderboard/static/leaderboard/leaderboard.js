/* The leaderboard grid: Tabulator over /api/leaderboard, state kept in the URL.
 *
 * The server's HTML table is the page without JavaScript; this replaces it with a grid that
 * sorts, filters and expands in place. Averages are never computed here: unticking a
 * benchmark re-fetches the board with ?exclude=, which the server recomputes with the
 * library's one aggregation function.
 */
(function () {
  "use strict";
  if (typeof Tabulator === "undefined") { return; }
  const holder = document.getElementById("leaderboard-grid");
  const stateNode = document.getElementById("leaderboard-state");
  if (!holder || !stateNode) { return; }
  const state = JSON.parse(stateNode.textContent);
  const filterInput = document.getElementById("board-filter");
  const checkboxes = Array.from(document.querySelectorAll("#custom-aggregation input[data-benchmark]"));
  let table = null;
  let board = null;

  function listParam(values) { return values.filter(Boolean).join(","); }

  function syncUrl() {
    const params = new URLSearchParams();
    if (state.sort) { params.set("sort", state.sort); params.set("dir", state.dir || "desc"); }
    if (state.q) { params.set("q", state.q); }
    if (state.exclude.length) { params.set("exclude", listParam(state.exclude)); }
    if (state.expanded.length) { params.set("expanded", listParam(state.expanded)); }
    if (state.as_of) { params.set("as_of", state.as_of); }
    const query = params.toString().replace(/%2C/g, ",").replace(/%3A/g, ":");
    history.replaceState(null, "", query ? "?" + query : location.pathname);
    document.querySelectorAll("a[data-download]").forEach(function (link) {
      const download = new URLSearchParams();
      if (state.exclude.length) { download.set("exclude", listParam(state.exclude)); }
      if (state.as_of) { download.set("as_of", state.as_of); }
      const q = download.toString();
      link.href = link.dataset.download + (q ? "?" + q : "");
    });
  }

  function matches(row, query) {
    const words = query.toLowerCase().split(/\s+/).filter(Boolean);
    const metadata = row.metadata || {};
    return words.every(function (word) {
      const colon = word.indexOf(":");
      if (colon > 0) {
        const key = word.slice(0, colon), value = word.slice(colon + 1);
        return Object.keys(metadata).some(function (k) {
          return k.toLowerCase() === key && String(metadata[k]).toLowerCase().includes(value);
        });
      }
      return row.model.toLowerCase().includes(word) ||
        Object.values(metadata).some(function (v) { return String(v).toLowerCase().includes(word); });
    });
  }

  function colour(value, scale) {
    if (value === null || value === undefined || !scale || scale[0] === null) { return ""; }
    const low = scale[0], high = scale[1];
    const share = high <= low ? 0.5 : Math.min(1, Math.max(0, (value - low) / (high - low)));
    return "hsl(" + Math.round(120 * share) + ",60%,80%)";
  }

  // A value's interval as a bar on [0, 1] with a tick at the value, shown on hover (the
  // page's table draws the same, tables.error_bar).
  const SVG = "http://www.w3.org/2000/svg";
  function errorBar(value, bounds) {
    function at(x) { return (100 * Math.min(1, Math.max(0, x))).toFixed(1); }
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("class", "error-bar");
    svg.setAttribute("viewBox", "0 0 100 6");
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("aria-hidden", "true");
    [["interval", at(bounds[0]), at(bounds[1]), "3", "3"],
     ["point", at(value), at(value), "0", "6"]].forEach(function (spec) {
      const line = document.createElementNS(SVG, "line");
      line.setAttribute("class", spec[0]);
      line.setAttribute("x1", spec[1]);
      line.setAttribute("x2", spec[2]);
      line.setAttribute("y1", spec[3]);
      line.setAttribute("y2", spec[4]);
      svg.append(line);
    });
    return svg;
  }

  const TIE_TITLE = "Not distinguishable from the model ranked above: the 95% interval of " +
    "their paired difference on average_vision holds 0";

  function hasBenchmarks(node) {
    return checkboxes.length === 0 || board.columnsUnder[node];
  }

  function toggle(node) {
    const at = state.expanded.indexOf(node);
    if (at >= 0) { state.expanded.splice(at, 1); } else { state.expanded.push(node); }
    load();
  }

  function gridColumns() {
    const columns = [
      { title: "Rank", field: "rank", sorter: "number", headerSortStartingDir: "asc",
        sorterParams: { alignEmptyValues: "bottom" }, frozen: true, hozAlign: "right",
        formatter: function (cell) {
          const row = cell.getRow().getData();
          if (!row.public) { return '<span class="private" title="Private: seen by its owner only, never ranked">private</span>'; }
          if (row.rank === null) { return ""; }
          if (!row.tied.average_vision) { return String(row.rank); }
          const span = document.createElement("span");
          const mark = document.createElement("span");
          mark.className = "tie";
          mark.title = TIE_TITLE;
          mark.textContent = "≈";
          span.append(String(row.rank) + " ", mark);
          return span;
        } },
      { title: "Model", field: "model", frozen: true, headerFilter: false,
        formatter: function (cell) {
          const row = cell.getRow().getData();
          const link = document.createElement("a");
          link.href = "/models/" + encodeURIComponent(row.model) + "/";
          link.textContent = row.model;
          const version = document.createElement("span");
          version.className = "version";
          version.textContent = " v" + row.model_version;
          const span = document.createElement("span");
          span.append(link, version);
          return span;
        } },
    ];
    board.columns.forEach(function (column) {
      columns.push({
        title: column.identifier,
        field: "v:" + column.identifier,
        sorter: "number",
        sorterParams: { alignEmptyValues: "bottom" },
        headerSortStartingDir: "desc",
        hozAlign: "right",
        cssClass: (column.is_benchmark ? "benchmark-column" : "node-column") + (column.excluded ? " excluded" : ""),
        titleFormatter: function () {
          const span = document.createElement("span");
          if (column.is_benchmark) {
            const link = document.createElement("a");
            link.href = "/benchmarks/" + encodeURIComponent(column.identifier) + "/";
            link.textContent = column.identifier;
            link.title = column.identifier + " version " + column.version + ", ceiling " + column.ceiling;
            link.addEventListener("click", function (event) { event.stopPropagation(); });
            span.append(link);
          } else {
            span.append(document.createTextNode(column.identifier));
            if (hasBenchmarks(column.identifier)) {
              const open = state.expanded.indexOf(column.identifier) >= 0;
              const expander = document.createElement("span");
              expander.className = "expander";
              expander.textContent = open ? "−" : "+";
              expander.title = (open ? "Hide" : "Show") + " the benchmarks of " + column.identifier;
              expander.addEventListener("click", function (event) {
                event.stopPropagation();
                toggle(column.identifier);
              });
              span.append(" ", expander);
            }
          }
          return span;
        },
        formatter: function (cell) {
          const row = cell.getRow().getData();
          const error = row.errors[column.identifier];
          const element = cell.getElement();
          if (error) {
            element.title = error;
            element.classList.add("cell-error");
            return "X";
          }
          const value = cell.getValue();
          if (value === null || value === undefined) { element.title = "No score"; return "–"; }
          const bounds = row.bounds[column.identifier];
          element.title = String(value) + (bounds ? " (95% interval " + bounds[0].toFixed(3) +
            " to " + bounds[1].toFixed(3) + ")" : "");
          element.style.backgroundColor = colour(value, column.scale);
          if (!bounds) { return value.toFixed(3); }
          const content = document.createElement("span");
          content.append(value.toFixed(3), errorBar(value, bounds));
          return content;
        },
      });
    });
    return columns;
  }

  function gridRows() {
    return board.rows.map(function (row) {
      const data = { model: row.model, model_version: row.model_version, rank: row.rank,
                     public: row.public, metadata: row.metadata, errors: row.errors,
                     bounds: row.bounds, tied: row.tied };
      Object.keys(row.values).forEach(function (name) { data["v:" + name] = row.values[name]; });
      return data;
    });
  }

  function sorters() {
    if (!state.sort) { return []; }
    const field = state.sort === "rank" || state.sort === "model" ? state.sort : "v:" + state.sort;
    return [{ column: field, dir: state.dir || "desc" }];
  }

  function applyFilter() {
    if (state.q) { table.setFilter(function (data) { return matches(data, state.q); }); }
    else { table.clearFilter(); }
  }

  function render() {
    const options = {
      data: gridRows(),
      columns: gridColumns(),
      layout: "fitData",
      maxHeight: "70vh",
      nestedFieldSeparator: false,
      initialSort: sorters(),
      placeholder: "No model matches.",
    };
    if (table) { table.destroy(); }
    holder.innerHTML = "";
    table = new Tabulator(holder, options);
    table.on("tableBuilt", applyFilter);
    table.on("dataSorted", function (sorted) {
      if (!sorted.length) { return; }
      const field = sorted[0].field;
      state.sort = field.startsWith("v:") ? field.slice(2) : field;
      state.dir = sorted[0].dir;
      syncUrl();
    });
  }

  function load() {
    const params = new URLSearchParams();
    params.set("expanded", listParam(state.expanded));
    if (state.exclude.length) { params.set("exclude", listParam(state.exclude)); }
    if (state.as_of) { params.set("as_of", state.as_of); }
    syncUrl();
    holder.setAttribute("aria-busy", "true");
    fetch("/api/leaderboard?" + params.toString(), { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error("The leaderboard could not be loaded (" + response.status + ")."); }
        return response.json();
      })
      .then(function (data) {
        board = data;
        board.columnsUnder = {};
        checkboxes.forEach(function (box) {
          const group = box.closest("fieldset");
          const legend = group ? group.querySelector("legend").textContent : "";
          board.columnsUnder[legend] = true;
        });
        // A node has benchmarks beneath it when a child node has some.
        const parents = {};
        data.columns.forEach(function (c) { parents[c.identifier] = c.parent; });
        Object.keys(board.columnsUnder).forEach(function (node) {
          let up = parents[node];
          while (up) { board.columnsUnder[up] = true; up = parents[up]; }
        });
        render();
      })
      .catch(function (error) {
        const note = document.createElement("p");
        note.className = "message error";
        note.textContent = error.message + " The table below is the page as served.";
        holder.prepend(note);
      })
      .finally(function () { holder.removeAttribute("aria-busy"); });
  }

  if (filterInput) {
    filterInput.addEventListener("input", function () {
      state.q = filterInput.value.trim();
      syncUrl();
      if (table) { applyFilter(); }
    });
    const form = filterInput.form;
    if (form) {
      form.addEventListener("submit", function (event) {
        const asOf = document.getElementById("board-as-of");
        if (asOf && asOf.value.trim() !== state.as_of) { return; } // a new date: load the page
        event.preventDefault();
      });
    }
  }
  checkboxes.forEach(function (box) {
    box.addEventListener("change", function () {
      state.exclude = checkboxes.filter(function (b) { return !b.checked; })
        .map(function (b) { return b.dataset.benchmark; });
      load();
    });
  });
  const recompute = document.querySelector("#custom-aggregation button[type=submit]");
  if (recompute) { recompute.hidden = true; }
  load();
})();
