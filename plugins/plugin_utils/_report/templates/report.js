(function () {
  "use strict";
  var ORDER = JSON.parse(document.getElementById("status-order").textContent);
  var DETAILS = JSON.parse(document.getElementById("host-details").textContent);
  var section = document.getElementById("host-table");
  var table = document.getElementById("hosts");
  var tbody = table.tBodies[0];
  var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var filterBox = document.getElementById("filter");
  var statusBox = document.getElementById("status-filter");
  var pageSizeBox = document.getElementById("page-size");
  var shown = document.getElementById("shown");
  var pager = document.getElementById("pager");
  var pageText = document.getElementById("page-text");
  var previous = document.getElementById("page-previous");
  var next = document.getElementById("page-next");
  var collator = new Intl.Collator(undefined, {numeric: true, sensitivity: "base"});
  // Every host as data (html_report._host_table): a row of markup is made only when its page is shown,
  // because a table of 50,000 rows takes seconds to parse and to lay out again after each change.
  var DATA = JSON.parse(document.getElementById("host-rows").textContent);
  var TEXTS = DATA.texts;
  // The fields of a data row: status, detail, flags, then indexes into TEXTS.
  var STATUS = 0, DETAIL = 1, FLAGS = 2, AT = 3, HOST = 4, STATUS_TEXT = 5, GATE = 6, WINDOWS = 7, VERSION = 8,
    UPDATE = 9, AGENTS = 10, SERVICE = 11, NEXT_STEP = 12;
  var SHOWN_FIELDS = [HOST, STATUS_TEXT, GATE, WINDOWS, VERSION, UPDATE, AGENTS, SERVICE, NEXT_STEP];
  var ATTENTION = 1, SERVICE_DOWN = 2;
  // The field each column shows, by column number (the first is the position).
  var COLUMN_FIELDS = [null].concat(SHOWN_FIELDS);
  // Every host, in the current sort order; only the current page is in the document.
  var rows = DATA.rows.map(function (fields, index) { return {position: index + 1, fields: fields, row: null, text: null}; });
  var total = rows.length;
  var matches = rows;
  var page = 0;
  var opened = new Map();
  var timer = null;

  function field(item, index) { return TEXTS[item.fields[index]]; }

  // Built with textContent only, as the markup rows of the page are: nothing from the data is parsed as markup.
  function rowOf(item) {
    if (item.row) { return item.row; }
    var fields = item.fields;
    var tr = document.createElement("tr");
    var status = field(item, STATUS);
    tr.setAttribute("data-status", status);
    tr.setAttribute("data-detail", String(fields[DETAIL]));
    if (fields[FLAGS] & ATTENTION) { tr.setAttribute("data-attention", ""); }
    if (field(item, AT)) { tr.setAttribute("data-at", field(item, AT)); }
    add(tr, "td", String(item.position), "num");
    add(tr, "td", field(item, HOST), "host");
    add(tr, "td", field(item, STATUS_TEXT), "st st-" + status);
    [GATE, WINDOWS, VERSION, UPDATE, AGENTS].forEach(function (index) { add(tr, "td", field(item, index)); });
    var service = add(tr, "td");
    if (fields[FLAGS] & SERVICE_DOWN) {
      add(service, "span", field(item, SERVICE), "down");
    } else {
      service.textContent = field(item, SERVICE);
    }
    add(tr, "td", field(item, NEXT_STEP));
    item.row = tr;
    return tr;
  }

  function itemText(item) {
    if (item.text === null) {
      item.text = [String(item.position)].concat(SHOWN_FIELDS.map(function (index) { return field(item, index); }))
        .join("\n").toLowerCase();
    }
    return item.text;
  }

  function matchesFilter(item, terms, want) {
    var ok = !want || (want === "attention" ? (item.fields[FLAGS] & ATTENTION) !== 0 : field(item, STATUS) === want);
    if (ok && terms.length) {
      var text = itemText(item);
      ok = terms.every(function (term) { return text.indexOf(term) !== -1; });
    }
    return ok;
  }

  function render() {
    var size = Number(pageSizeBox.value) || matches.length || 1;
    var pages = Math.max(1, Math.ceil(matches.length / size));
    page = Math.min(Math.max(page, 0), pages - 1);
    var fragment = document.createDocumentFragment();
    matches.slice(page * size, (page + 1) * size).forEach(function (item) {
      var row = rowOf(item);
      row.cells[1].tabIndex = 0;
      fragment.appendChild(row);
      var detail = opened.get(row);
      if (detail) { fragment.appendChild(detail); }
    });
    tbody.textContent = "";
    tbody.appendChild(fragment);
    shown.textContent = matches.length + " of " + total + " hosts match";
    pager.hidden = pages < 2;
    pageText.textContent = "Page " + (page + 1) + " of " + pages + " (hosts " + (matches.length ? page * size + 1 : 0) +
      "\u2013" + Math.min((page + 1) * size, matches.length) + ")";
    previous.disabled = page === 0;
    next.disabled = page >= pages - 1;
  }

  function applyFilter() {
    var terms = filterBox.value.toLowerCase().split(/\s+/).filter(Boolean);
    var want = statusBox.value;
    matches = rows.filter(function (item) { return matchesFilter(item, terms, want); });
    page = 0;
    render();
  }

  function sortKey(item, index, kind) {
    if (kind === "status") { return ORDER[field(item, STATUS)]; }
    if (kind === "num") { return item.position; }
    return field(item, COLUMN_FIELDS[index]);
  }

  function sortBy(th) {
    var index = headers.indexOf(th);
    var kind = th.getAttribute("data-kind");
    var direction = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
    headers.forEach(function (other) { other.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", direction === 1 ? "ascending" : "descending");
    var keyed = rows.map(function (item, position) { return [sortKey(item, index, kind), position, item]; });
    keyed.sort(function (a, b) {
      var order = typeof a[0] === "number" ? a[0] - b[0] : collator.compare(a[0], b[0]);
      return order ? order * direction : a[1] - b[1];
    });
    rows = keyed.map(function (item) { return item[2]; });
    var matching = new Set(matches);
    matches = rows.filter(function (item) { return matching.has(item); });
    page = 0;
    render();
  }

  function add(parent, tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) { node.textContent = text; }
    if (className) { node.className = className; }
    parent.appendChild(node);
    return node;
  }

  function addList(parent, title, items, ordered) {
    if (!items || !items.length) { return; }
    add(parent, "h4", title);
    var list = add(parent, ordered ? "ol" : "ul");
    items.forEach(function (item) { add(list, "li", item); });
  }

  // Built with textContent only: nothing from the data is ever parsed as markup.
  function buildDetail(row) {
    var data = DETAILS[Number(row.getAttribute("data-detail"))] || {};
    var tr = document.createElement("tr");
    tr.className = "detail";
    var td = add(tr, "td");
    td.colSpan = row.cells.length;
    if (data.kbs && data.kbs.length) {
      add(td, "h4", data.kbs.length > 1 ? "Windows update needed (any one of these)" : "Windows update needed");
      var kbList = add(td, "ul");
      data.kbs.forEach(function (kb) {
        var li = add(kbList, "li");
        add(li, "strong", kb.kb);
        var extra = [kb.kind, kb.title, kb.architecture, kb.released ? "released " + kb.released : ""].filter(Boolean);
        if (extra.length) { li.appendChild(document.createTextNode(" \u2014 " + extra.join(", ") + " ")); }
        if (kb.url && /^https?:\/\//i.test(kb.url)) {
          var link = add(li, "a", "Microsoft Update Catalog");
          link.href = kb.url;
          link.target = "_blank";
          link.rel = "noopener noreferrer";
        }
      });
    }
    addList(td, "Prerequisite updates", data.prerequisites);
    addList(td, "Prerequisites not found on the host", data.missing_prerequisites);
    if (data.satisfied_by) { add(td, "h4", "Update found"); add(td, "div", data.satisfied_by); }
    if (data.root_ca) { add(td, "h4", "Root certificate"); add(td, "div", data.root_ca); }
    addList(td, "Why", data.reasons);
    addList(td, "What to do", data.actions, true);
    (data.agents || []).forEach(function (agent) {
      add(td, "h4", "Trend Micro agent: " + agent.name + (agent.version ? " " + agent.version : "") +
          " (service " + (agent.service_state || "unknown") + "; " +
          (agent.upgrade_safe ? "safe to upgrade" : "do not upgrade yet") + ")");
      var list = add(td, "ul");
      (agent.advice || []).forEach(function (item) { add(list, "li", item); });
    });
    addList(td, "Warnings", data.warnings);
    if (data.error) { add(td, "h4", "Error"); add(td, "pre", data.error); }
    if (data.gate) { add(td, "h4", "Upgrade gate"); add(td, "div", data.gate); }
    if (row.getAttribute("data-at")) { add(td, "p", "Checked at " + row.getAttribute("data-at"), "muted"); }
    return tr;
  }

  function toggle(row) {
    var detail = opened.get(row);
    if (detail) {
      detail.remove();
      opened.delete(row);
      row.classList.remove("open");
      row.cells[1].setAttribute("aria-expanded", "false");
      return;
    }
    detail = buildDetail(row);
    row.after(detail);
    opened.set(row, detail);
    row.classList.add("open");
    row.cells[1].setAttribute("aria-expanded", "true");
  }

  function copy(text, button) {
    var label = button.textContent;
    function done() {
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    }
    function fallback() {
      var area = document.createElement("textarea");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      try { document.execCommand("copy"); done(); } catch (error) { button.textContent = "Select and copy by hand"; }
      area.remove();
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, fallback);
    } else {
      fallback();
    }
  }

  filterBox.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(applyFilter, total > 2000 ? 200 : 60);
  });
  statusBox.addEventListener("change", applyFilter);
  pageSizeBox.addEventListener("change", function () { page = 0; render(); });
  previous.addEventListener("click", function () { page -= 1; render(); section.scrollIntoView(); });
  next.addEventListener("click", function () { page += 1; render(); section.scrollIntoView(); });
  headers.forEach(function (th) {
    th.tabIndex = 0;
    th.addEventListener("click", function () { sortBy(th); });
    th.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); sortBy(th); }
    });
  });
  tbody.addEventListener("click", function (event) {
    var cell = event.target.closest("td.host");
    if (cell) { toggle(cell.parentNode); }
  });
  tbody.addEventListener("keydown", function (event) {
    var cell = event.target.closest("td.host");
    if (cell && (event.key === "Enter" || event.key === " ")) { event.preventDefault(); toggle(cell.parentNode); }
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy]");
    if (button) {
      var source = document.getElementById(button.getAttribute("data-copy"));
      var separator = button.getAttribute("data-separator");
      var text = source.value;
      if (separator) { text = text.split("\n").filter(Boolean).join(separator); }
      copy(text, button);
      return;
    }
    var bar = event.target.closest("[data-show-status]");
    if (bar) {
      event.preventDefault();
      statusBox.value = bar.getAttribute("data-show-status");
      applyFilter();
      section.scrollIntoView();
    }
  });
  render();
  section.classList.add("live");

  // The "changed since" view: the hosts of one kind of change, a page at a time, from the page's data.
  var changes = document.getElementById("changes");
  var changeBox = document.getElementById("change-filter");
  if (changes && changeBox) {
    var CHANGES = JSON.parse(document.getElementById("change-rows").textContent);
    var changeBody = document.querySelector("#change-table tbody");
    var changesShown = document.getElementById("changes-shown");
    var changePager = document.getElementById("change-pager");
    var changePageText = document.getElementById("change-page-text");
    var changePrevious = document.getElementById("change-previous");
    var changeNext = document.getElementById("change-next");
    // The fields of a data row, as indexes into CHANGES.texts: change, label, host, before, now.
    var changeItems = CHANGES.rows.map(function (fields) { return {fields: fields, row: null}; });
    var changeMatches = changeItems;
    var changePage = 0;
    var changeText = function (item, index) { return CHANGES.texts[item.fields[index]]; };
    var changeRowOf = function (item) {
      if (!item.row) {
        var kind = changeText(item, 0);
        var tr = document.createElement("tr");
        tr.setAttribute("data-change", kind);
        add(tr, "td", changeText(item, 2), "host-name");
        add(tr, "td", changeText(item, 1), "change change-" + kind);
        add(tr, "td", changeText(item, 3));
        add(tr, "td", changeText(item, 4));
        item.row = tr;
      }
      return item.row;
    };
    var renderChanges = function () {
      var size = CHANGES.page_size;
      var pages = Math.max(1, Math.ceil(changeMatches.length / size));
      changePage = Math.min(Math.max(changePage, 0), pages - 1);
      var fragment = document.createDocumentFragment();
      changeMatches.slice(changePage * size, (changePage + 1) * size).forEach(function (item) {
        fragment.appendChild(changeRowOf(item));
      });
      changeBody.textContent = "";
      changeBody.appendChild(fragment);
      var count = changeMatches.length;
      changesShown.textContent = count + (count === 1 ? " host" : " hosts");
      changePager.hidden = pages < 2;
      changePageText.textContent = "Page " + (changePage + 1) + " of " + pages;
      changePrevious.disabled = changePage === 0;
      changeNext.disabled = changePage >= pages - 1;
    };
    changeBox.addEventListener("change", function () {
      var want = changeBox.value;
      changeMatches = changeItems.filter(function (item) { return !want || changeText(item, 0) === want; });
      changePage = 0;
      renderChanges();
    });
    changePrevious.addEventListener("click", function () { changePage -= 1; renderChanges(); });
    changeNext.addEventListener("click", function () { changePage += 1; renderChanges(); });
    renderChanges();
    changes.classList.add("live");
  }
}());
