// The live part of the tripswitch dashboard. It polls the handler's
// ?part=data every refresh and updates the page in place. Data reaches the
// page only through textContent and DOM properties, never as HTML; the
// Content-Security-Policy (with Trusted Types) makes any HTML sink throw.
(function () {
  "use strict";

  const root = document.documentElement;
  const body = document.body;
  const tbody = document.getElementById("rows");
  const statusEl = document.getElementById("status");
  const summaryEl = document.getElementById("summary");
  const logEl = document.getElementById("log");
  const errorsEl = document.getElementById("errors");
  const filterEl = document.getElementById("filter");
  const unhealthyEl = document.getElementById("unhealthy");
  const shownEl = document.getElementById("shown");

  // Errors show on the page (and in data-errors, which the tests read):
  // an operator sees that the page is broken rather than a stale table.
  let errorCount = 0;
  function reportError(message) {
    errorCount++;
    root.dataset.errors = String(errorCount);
    const li = document.createElement("li");
    li.textContent = "Page error: " + message;
    errorsEl.appendChild(li);
    errorsEl.hidden = false;
  }
  window.addEventListener("error", (e) => reportError(e.message || String(e.error)));
  window.addEventListener("unhandledrejection", (e) => reportError(String(e.reason)));
  root.dataset.errors = "0";
  root.dataset.updates = "0";

  const MAX_LOG = 50;
  const ROW_TRANSITIONS = 3;

  let refreshMs = Number(body.dataset.refreshMs) || 1000;
  let historyMs = Number(body.dataset.historyMs) || 180000;
  let instance = "";
  let since = 0;
  let eventCursor = 0;
  let updates = 0;
  let failures = 0;
  let lastOk = 0;
  let serverNow = 0;
  let rows = new Map(); // name -> row
  let order = [];
  let log = [];

  function el(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function pad(n) {
    return n < 10 ? "0" + n : String(n);
  }

  function clock(ms) {
    const d = new Date(ms);
    return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }

  function duration(s) {
    if (!(s > 0)) return "0s";
    if (s < 10) return s.toFixed(1) + "s";
    if (s < 60) return Math.floor(s) + "s";
    const m = Math.floor(s / 60);
    if (m < 60) return m + "m " + pad(Math.floor(s % 60)) + "s";
    const h = Math.floor(m / 60);
    if (h < 48) return h + "h " + pad(m % 60) + "m";
    return Math.floor(h / 24) + "d " + (h % 24) + "h";
  }

  function pct(f) {
    return (f * 100).toFixed(f > 0 && f < 0.1 ? 1 : 0) + "%";
  }

  function perSecond(v) {
    if (v === null || v === undefined) return "–";
    if (v === 0) return "0";
    if (v < 10) return v.toFixed(1);
    return Math.round(v).toLocaleString("en");
  }

  // Visible rows are tracked so that only they redraw their sparklines:
  // with hundreds of breakers most are off screen.
  const visible = new WeakSet();
  const rowOf = new WeakMap(); // tr -> row
  const observer = "IntersectionObserver" in window
    ? new IntersectionObserver((entries) => {
      for (const e of entries) {
        if (e.isIntersecting) {
          visible.add(e.target);
          const row = rowOf.get(e.target);
          if (row) draw(row);
        } else {
          visible.delete(e.target);
        }
      }
    })
    : null;

  function rateCell(td) {
    const wrap = el("span", "rate");
    const value = el("span", "value");
    const bar = el("span", "bar");
    const fill = el("span");
    bar.appendChild(fill);
    const of = el("span", "of");
    wrap.append(value, bar, of);
    td.appendChild(wrap);
    return { td, value, bar, fill, of };
  }

  function makeRow(name) {
    const tr = el("tr");
    tr.dataset.name = name;
    const nameTd = el("td", "name", name);
    nameTd.title = name;
    const stateTd = el("td", "state");
    const badge = el("span", "badge");
    const icon = el("span", "icon");
    icon.setAttribute("aria-hidden", "true");
    const label = el("span", "label");
    badge.append(icon, label);
    const forced = el("span", "forced", "forced");
    forced.hidden = true;
    stateTd.append(badge, " ", forced);
    const failTd = el("td", "num");
    const slowTd = el("td", "num");
    const callsTd = el("td", "num");
    const rejTd = el("td", "num");
    const sinceTd = el("td", "num");
    const retryTd = el("td", "num");
    const sparkTd = el("td", "spark");
    const canvas = el("canvas");
    canvas.textContent = "Calls per second over the last minutes";
    sparkTd.appendChild(canvas);
    const trTd = el("td", "transitions");
    const mini = el("ol", "mini");
    trTd.appendChild(mini);
    tr.append(nameTd, stateTd, failTd, slowTd, callsTd, rejTd, sinceTd, retryTd, sparkTd, trTd);
    const row = {
      name, lower: name.toLowerCase(), tr, label, forced,
      fail: rateCell(failTd), slow: rateCell(slowTd),
      callsTd, rejTd, sinceTd, retryTd, canvas, mini,
      points: [], transitions: [], lastEvent: 0, data: null, miniKey: "",
    };
    rowOf.set(tr, row);
    if (observer) observer.observe(tr);
    return row;
  }

  function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
  }

  function showRate(cell, rate, calls, threshold, minimum, tracked) {
    if (!tracked) {
      setText(cell.value, "off");
      cell.value.className = "value dim";
      cell.bar.hidden = true;
      setText(cell.of, "");
      return;
    }
    cell.value.className = "value";
    setText(cell.value, calls > 0 ? pct(rate) : "–");
    cell.bar.hidden = threshold === null;
    if (threshold === null) {
      setText(cell.of, calls + " calls · never trips");
      cell.td.title = "";
      return;
    }
    const fill = Math.min(1, rate / threshold);
    cell.fill.style.width = (fill * 100).toFixed(1) + "%";
    cell.bar.classList.toggle("over", rate >= threshold);
    setText(cell.of, "trips at " + pct(threshold) + (calls < minimum ? " · " + calls + "/" + minimum + " calls" : ""));
    cell.td.title = calls + " calls in the window; trips at " + pct(threshold) + " with at least " + minimum + " calls";
  }

  function update(row, b) {
    const state = b.state;
    row.tr.className = "st-" + state;
    setText(row.label, state);
    row.forced.hidden = !b.forced;
    const th = b.thresholds || {};
    showRate(row.fail, b.failure_rate, b.calls, th.failure_rate === undefined ? null : th.failure_rate, th.minimum_calls, true);
    showRate(row.slow, b.slow_call_rate, b.calls, th.slow_call_rate === undefined ? null : th.slow_call_rate, th.minimum_calls,
      th.slow_call_rate !== null || b.slow_calls > 0);
    if (th.consecutive_failures > 0 && b.consecutive_failures > 0 && state === "closed") {
      setText(row.fail.of, b.consecutive_failures + "/" + th.consecutive_failures + " in a row");
    }
    setText(row.callsTd, perSecond(b.calls_per_second));
    setText(row.rejTd, perSecond(b.rejected_per_second));
    row.rejTd.classList.toggle("to-open", b.rejected_per_second > 0);
    setText(row.sinceTd, duration(b.state_since_seconds));
    let retry = "";
    if (state === "open") retry = b.forced ? "held open" : duration(b.retry_after_seconds);
    else if (state === "half-open") retry = "probing (" + b.half_open_in_flight + " out)";
    setText(row.retryTd, retry);
    row.tr.title = b.trips > 0 ? "opened " + b.trips + " time" + (b.trips === 1 ? "" : "s") + " since it was made" : "";
    row.data = b;
  }

  function transitionText(t) {
    return t.from + " → " + t.to;
  }

  function renderMini(row) {
    const recent = row.transitions.slice(-ROW_TRANSITIONS).reverse();
    const key = recent.map((t) => t.id).join(",");
    if (key === row.miniKey) return;
    row.miniKey = key;
    const items = recent.map((t) => {
      const li = el("li");
      li.append(el("span", "to-" + t.to, t.to), " ", el("span", "", t.reason), " ", el("span", "when", clock(t.at)));
      li.title = transitionText(t) + ", generation " + t.generation;
      return li;
    });
    row.mini.replaceChildren(...items);
  }

  let logKey = "";
  function renderLog() {
    const key = log.map((t) => t.id).join(",");
    if (key === logKey) return;
    logKey = key;
    const items = log.map((t) => {
      const li = el("li");
      li.append(el("span", "when", clock(t.at)), " ", el("strong", "", t.name), ": ",
        el("span", "to-" + t.to, transitionText(t)), " (" + t.reason + ")");
      return li;
    });
    if (items.length === 0) items.push(el("li", "dim", "No transition since the dashboard was made."));
    logEl.replaceChildren(...items);
  }

  // The sparkline: calls per second as grey columns with the rejections
  // stacked on them in red, over a strip coloured by state, placed by time
  // so that gaps in the polling show as gaps.
  const stateColour = ["#009e73", "#d55e00", "#e69f00"];
  function draw(row) {
    const c = row.canvas;
    const ratio = window.devicePixelRatio || 1;
    const w = 150, h = 30;
    if (c.width !== w * ratio) {
      c.width = w * ratio;
      c.height = h * ratio;
    }
    const g = c.getContext("2d");
    if (!g) return;
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, w, h);
    const pts = row.points;
    if (pts.length === 0) return;
    const start = serverNow - historyMs;
    let peak = 0;
    for (const p of pts) peak = Math.max(peak, (p[1] || 0) + (p[2] || 0));
    const strip = 4, top = h - strip - 1;
    const x = (at) => ((at - start) / historyMs) * w;
    for (let i = 0; i < pts.length; i++) {
      const p = pts[i];
      const x0 = x(p[0]);
      const x1 = i + 1 < pts.length ? x(pts[i + 1][0]) : x(p[0] + refreshMs);
      const width = Math.max(1, Math.min(x1 - x0, (3 * refreshMs / historyMs) * w));
      g.fillStyle = stateColour[p[4]] || "#999";
      g.fillRect(x0, h - strip, width, strip);
      if (peak > 0 && p[1] !== null) {
        const calls = (p[1] / peak) * top;
        const rej = ((p[2] || 0) / peak) * top;
        g.fillStyle = "#7b8d99";
        g.fillRect(x0, top - calls, width, calls);
        g.fillStyle = "#d55e00";
        g.fillRect(x0, top - calls - rej, width, rej);
      }
    }
    c.title = "peak " + perSecond(peak) + " calls/s over the last " + duration(historyMs / 1000);
  }

  function applyFilter() {
    const q = filterEl.value.trim().toLowerCase();
    const onlyUnhealthy = unhealthyEl.checked;
    let shown = 0;
    for (const row of order) {
      const hide = (q !== "" && !row.lower.includes(q)) || (onlyUnhealthy && row.data && row.data.rank >= 3);
      if (row.tr.hidden !== hide) row.tr.hidden = hide;
      if (!hide) shown++;
    }
    setText(shownEl, shown === order.length ? order.length + " breakers" : "showing " + shown + " of " + order.length);
  }
  // The filter lives in the page's URL too (?filter=...&unhealthy=1), so
  // that a filtered view can be bookmarked and shared.
  const params = new URLSearchParams(location.search);
  filterEl.value = params.get("filter") || "";
  unhealthyEl.checked = params.get("unhealthy") === "1";
  function filterChanged() {
    applyFilter();
    const p = new URLSearchParams(location.search);
    if (filterEl.value) p.set("filter", filterEl.value); else p.delete("filter");
    if (unhealthyEl.checked) p.set("unhealthy", "1"); else p.delete("unhealthy");
    const q = p.toString();
    history.replaceState(null, "", q ? "?" + q : location.pathname);
  }
  filterEl.addEventListener("input", filterChanged);
  unhealthyEl.addEventListener("change", filterChanged);

  function apply(d) {
    if (d.reset) {
      rows = new Map();
      order = [];
      log = [];
      if (observer) observer.disconnect();
      tbody.replaceChildren();
    }
    instance = d.instance;
    since = d.since;
    eventCursor = d.event;
    refreshMs = d.refresh_ms || refreshMs;
    historyMs = d.history_ms || historyMs;
    serverNow = d.now;
    const next = [];
    const seen = new Set();
    for (const b of d.breakers) {
      let row = rows.get(b.name);
      if (!row) {
        row = makeRow(b.name);
        rows.set(b.name, row);
      }
      seen.add(b.name);
      next.push(row);
      if (b.history) {
        for (const p of b.history) {
          if (row.points.length === 0 || p[0] > row.points[row.points.length - 1][0]) row.points.push(p);
        }
      }
      const oldest = d.now - historyMs;
      let drop = 0;
      while (drop < row.points.length && row.points[drop][0] < oldest) drop++;
      if (drop > 0) row.points.splice(0, drop);
      if (b.transitions) {
        for (const t of b.transitions) {
          if (t.id <= row.lastEvent) continue; // sent again after a cursor held back
          row.lastEvent = t.id;
          row.transitions.push(t);
          log.push(Object.assign({ name: b.name }, t));
        }
        if (row.transitions.length > ROW_TRANSITIONS) row.transitions.splice(0, row.transitions.length - ROW_TRANSITIONS);
      }
      update(row, b);
      renderMini(row);
    }
    for (const [name, row] of rows) {
      if (!seen.has(name)) {
        rows.delete(name);
        if (observer) observer.unobserve(row.tr);
        row.tr.remove();
      }
    }
    let same = next.length === tbody.children.length;
    for (let i = 0; same && i < next.length; i++) same = tbody.children[i] === next[i].tr;
    if (!same) {
      const frag = document.createDocumentFragment();
      for (const row of next) frag.appendChild(row.tr);
      tbody.appendChild(frag);
    }
    order = next;
    log.sort((a, b) => b.id - a.id);
    if (log.length > MAX_LOG) log.length = MAX_LOG;
    renderLog();
    applyFilter();
    for (const row of order) {
      if (!row.tr.hidden && (!observer || visible.has(row.tr))) draw(row);
    }
    const h = d.health;
    setText(summaryEl, h.total + " breakers: " + h.open + " open, " + h.half_open + " half-open, " + h.closed +
      " closed · " + h.healthy_percent.toFixed(h.healthy_percent % 1 ? 1 : 0) + "% healthy" +
      (h.evicted || h.refused ? " · " + h.evicted + " evicted, " + h.refused + " refused" : ""));
    updates++;
    root.dataset.updates = String(updates);
  }

  function setStatus(kind, text) {
    statusEl.dataset.status = kind;
    root.dataset.status = kind;
    setText(statusEl, text);
  }

  async function poll() {
    let data;
    try {
      const url = "?part=data&instance=" + encodeURIComponent(instance) + "&since=" + since + "&event=" + eventCursor;
      const resp = await fetch(url, { cache: "no-store", credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!resp.ok) throw new Error("HTTP " + resp.status);
      data = await resp.json();
    } catch (e) {
      failures++;
      const wait = Math.min(refreshMs * 2 ** failures, 30000);
      setStatus("error", "Cannot reach the server (" + e.message + "); retrying in " + duration(wait / 1000) +
        (lastOk ? "; last update " + clock(lastOk) : ""));
      setTimeout(poll, wait);
      return;
    }
    failures = 0;
    try {
      apply(data);
      lastOk = data.now;
      setStatus("live", "Live · updated " + clock(data.now) + " · every " + duration(refreshMs / 1000));
    } catch (e) {
      reportError(e && e.stack ? e.stack : String(e));
    } finally {
      setTimeout(poll, refreshMs);
    }
  }

  poll();
})();
