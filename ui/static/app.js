// tape pages: the browser's connection and the watchlist.
//
// The connection: every tab of an origin shares one event stream, owned
// by worker.js (a SharedWorker; where there is none, a dedicated worker of
// the tab that holds the "tape-leader" lock, relayed to the other tabs over
// a BroadcastChannel; failing that, one per tab). A page names the symbols
// it wants in <main data-symbols> or with window.tape.setSymbols(list),
// and gets them as events on document:
//   tape:quote    detail = one quote object, as the SSE "quote" event
//   tape:snapshot detail = {quotes: [...]}: redraw from it
//   tape:state    detail = {state: "live"|"reconnecting"|"stale", since, newest} (ms epoch)
//   tape:nodes    detail = the "nodes" event's list
// Elements marked data-live and data-symbol="S" have the cells inside
// them marked data-field="last" (bid, ask, change, pct, spread, volume,
// open, high, low, ts, source, spark) kept current, once per animation
// frame. Feed data reaches the DOM only as textContent or attribute values.
// Prices arrive as exact decimal strings and are shown verbatim; numbers
// are parsed only to decide a direction, to sort and to plot.
"use strict";

(function () {
  const main = document.querySelector("main");
  const script = document.currentScript;
  const workerURL = script && script.src ? script.src.replace(/app\.js(?=\?|$)/, "worker.js") : "/static/worker.js";
  const version = (/[?&]v=([^&]+)/.exec(workerURL) || [])[1] || "0";
  const tabId = Math.random().toString(36).slice(2, 10) + Date.now().toString(36);
  const symbolRE = /^[A-Z0-9^][A-Z0-9./:_=^-]{0,23}$/; // tape.Symbol

  let wanted = parseList(main ? main.dataset.symbols : "");
  let post = null; // sends a message to the hub
  let mode = "none";
  let conn = { state: "connecting", since: Date.now(), newest: 0 };
  let nodes = [];

  function parseList(s) {
    const out = [];
    for (const p of String(s || "").split(",")) {
      const v = p.trim().toUpperCase();
      if (symbolRE.test(v) && !out.includes(v)) out.push(v);
    }
    return out;
  }

  function emit(name, detail) {
    document.dispatchEvent(new CustomEvent(name, { detail }));
  }

  function tsOf(q) {
    const t = q && q.ts ? Date.parse(q.ts) : NaN;
    return Number.isFinite(t) ? t : 0;
  }

  function receive(m) {
    if (!m) return;
    switch (m.t) {
      case "quotes":
        for (const q of m.quotes || []) {
          if (!wanted.includes(q.symbol)) continue;
          conn.newest = Math.max(conn.newest, tsOf(q));
          emit("tape:quote", q);
        }
        break;
      case "snapshot": {
        const quotes = (m.quotes || []).filter((q) => wanted.includes(q.symbol));
        for (const q of quotes) conn.newest = Math.max(conn.newest, tsOf(q));
        emit("tape:snapshot", { quotes, reason: m.reason || "", reset: !!m.reset });
        break;
      }
      case "state":
        conn = { state: m.state, since: m.since, newest: Math.max(conn.newest, m.newest || 0), node: m.node || "", why: m.why || "" };
        // Before the first stream opens the page is not live yet: the
        // contract's states are live, reconnecting and stale.
        emit("tape:state", { state: conn.state === "connecting" ? "reconnecting" : conn.state, since: conn.since, newest: conn.newest, why: conn.why });
        break;
      case "nodes":
        nodes = Array.isArray(m.nodes) ? m.nodes : [];
        emit("tape:nodes", nodes);
        break;
    }
  }

  function hello() {
    if (post) post({ t: "hello", symbols: wanted, origin: location.origin, lock: lockHeld });
  }

  // Each tab holds a lock named after itself for its whole life: the hub
  // learns that a tab is gone (closed, crashed) when the lock is freed.
  // The tab says hello only once it holds it, or the hub's watch could be
  // granted first and take the tab for gone.
  let lockHeld = false; // the hub watches the tab's lock only if it holds one
  function holdTabLock(then) {
    if (!navigator.locks) return then();
    let started = false;
    navigator.locks.request("tape-tab-" + tabId, () => {
      started = lockHeld = true;
      then();
      return new Promise(() => {});
    }).catch(() => { if (!started) then(); });
  }

  function startShared() {
    const w = new SharedWorker(workerURL, { name: "tape-" + version });
    w.port.onmessage = (e) => receive(e.data);
    w.port.start();
    post = (m) => { m.tab = tabId; w.port.postMessage(m); };
    mode = "shared";
    hello();
  }

  function startDedicated() {
    const w = new Worker(workerURL);
    w.onmessage = (e) => receive(e.data);
    post = (m) => { m.tab = tabId; w.postMessage(m); };
    mode = "tab";
    hello();
  }

  // startLeader: the tab holding "tape-leader" runs the hub and relays the
  // others over a BroadcastChannel; when it goes, the lock passes to
  // another tab, which says so, and every tab says hello again.
  function startLeader() {
    const ch = new BroadcastChannel("tape-hub-" + version);
    mode = "follower";
    post = (m) => { m.tab = tabId; ch.postMessage(m); };
    ch.onmessage = (e) => {
      const m = e.data;
      if (!m) return;
      if (m.to === tabId) receive(m);
      else if (m.t === "leader") hello();
    };
    navigator.locks.request("tape-leader-" + version, () => {
      const w = new Worker(workerURL);
      w.onmessage = (e) => {
        const m = e.data;
        if (m && m.to === tabId) receive(m);
        else ch.postMessage(m);
      };
      ch.onmessage = (e) => {
        const m = e.data;
        if (m && m.tab && m.to === undefined) w.postMessage(m);
      };
      post = (m) => { m.tab = tabId; w.postMessage(m); };
      mode = "leader";
      hello();
      ch.postMessage({ t: "leader" });
      return new Promise(() => {}); // held for the tab's life
    }).catch(() => {});
    hello();
  }

  function startHub() {
    if (!wanted.length && !main) return;
    try {
      if (window.SharedWorker) return startShared();
    } catch (e) { /* blocked (storage off, say): fall through */ }
    try {
      if (window.BroadcastChannel && navigator.locks && window.Worker) return startLeader();
      if (window.Worker) return startDedicated();
    } catch (e) { /* no workers at all: the page stays as served */ }
  }

  function setSymbols(list) {
    wanted = parseList(Array.isArray(list) ? list.join(",") : list);
    if (main) main.dataset.symbols = wanted.join(",");
    if (post) post({ t: "symbols", symbols: wanted });
    showState();
  }

  // The tab leaves the hub when it is hidden for good or put in the
  // back/forward cache, and joins again when it comes back.
  addEventListener("pagehide", () => { if (post) post({ t: "bye" }); });
  addEventListener("pageshow", (e) => { if (e.persisted) hello(); });

  window.tape = {
    setSymbols,
    get symbols() { return wanted.slice(); },
    get state() { return Object.assign({}, conn); },
    get nodes() { return nodes.slice(); },
    get mode() { return mode; },
  };

  // --- formatting (the server's rules: ui/pages.go) ---

  function formatVolume(v) {
    if (v == null || v === "" || /^0(\.0*)?$/.test(String(v))) return "—";
    const [w, f] = String(v).split(".");
    return w.replace(/\B(?=(\d{3})+(?!\d))/g, ",") + (f ? "." + f : "");
  }

  function localTime() { return document.documentElement.dataset.tz === "local"; }

  function pad(n, w) { return String(n).padStart(w || 2, "0"); }

  // clock shows a feed time to the millisecond, in UTC or local time.
  function clock(ts) {
    if (!ts) return "—";
    if (!localTime()) {
      const m = /T(\d\d:\d\d:\d\d)(\.\d{1,3})?/.exec(ts);
      return m ? m[1] + (m[2] || ".000").padEnd(4, "0") : String(ts);
    }
    const d = new Date(ts);
    if (isNaN(d)) return String(ts);
    return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()) + "." + pad(d.getMilliseconds(), 3);
  }

  function toUnits(s) {
    const neg = s.startsWith("-");
    const [w, f = ""] = (neg ? s.slice(1) : s).split(".");
    const v = BigInt(w) * 100000000n + BigInt((f + "00000000").slice(0, 8));
    return neg ? -v : v;
  }

  function fromUnits(v) {
    const neg = v < 0n;
    if (neg) v = -v;
    let f = String(v % 100000000n).padStart(8, "0").replace(/0+$/, "");
    if (f.length < 2) f = f.padEnd(2, "0");
    return (neg ? "-" : "") + String(v / 100000000n) + "." + f;
  }

  const decimalRE = /^-?\d+(\.\d+)?$/;
  function units(s) { return s != null && decimalRE.test(String(s)) ? toUnits(String(s)) : null; }

  // change is tape.PriceChange: the exact difference, and hundredths of a
  // percent of |open| rounded half away from zero, all in BigInt.
  function change(q) {
    const l = units(q.last), o0 = units(q.open);
    if (!l || !o0) return null;
    const d = l - o0;
    const o = o0 < 0n ? -o0 : o0;
    const ad = d < 0n ? -d : d;
    const h = (2n * ad * 10000n + o) / (2n * o);
    const neg = d < 0n;
    return {
      diff: (neg ? "" : "+") + fromUnits(d),
      pct: (neg && h !== 0n ? "-" : "+") + String(h / 100n) + "." + String(h % 100n).padStart(2, "0") + "%",
      dir: d > 0n ? "up" : d < 0n ? "down" : "",
    };
  }

  function spread(q) {
    const b = units(q.bid), a = units(q.ask);
    if (!b || !a) return "—";
    return fromUnits(a - b);
  }

  function text(q, field, c) {
    switch (field) {
      case "volume": return formatVolume(q.volume);
      case "change": if (c === undefined) c = change(q); return c ? c.diff : "—";
      case "pct": if (c === undefined) c = change(q); return c ? c.pct : "—";
      case "spread": return spread(q);
      case "ts": return clock(q.ts);
      case "source": return q.source == null ? "—" : String(q.source);
      default: return q[field] == null || q[field] === "" ? "—" : String(q[field]);
    }
  }

  // --- live cells: every element with data-symbol and data-field inside
  // it; DOM writes wait for the next animation frame, one per symbol ---

  const FIELDS = ["last", "change", "pct", "bid", "ask", "spread", "volume", "open", "high", "low", "ts", "source"];
  const FLASH = { last: 1, bid: 1, ask: 1 };
  const pending = new Map(); // symbol -> {q, flash}
  const sparks = new Map(); // symbol -> [price strings]
  const sparkMinute = new Map(); // symbol -> the minute its last point is of
  let frame = 0;
  let onFrame = []; // other work for the next frame

  function schedule() {
    if (!frame) frame = requestAnimationFrame(render);
  }

  function queue(q, flash) {
    if (!q || typeof q.symbol !== "string") return;
    const p = pending.get(q.symbol);
    pending.set(q.symbol, { q, flash: flash && (!p || p.flash) });
    const v = sparkPrice(q);
    if (v) {
      // One point a minute, as the server draws the session: the last
      // point follows the price until the next minute begins.
      const pts = sparkFor(q.symbol);
      const minute = Math.floor(Date.now() / 60000);
      if (sparkMinute.get(q.symbol) === minute && pts.length) pts[pts.length - 1] = v;
      else pts.push(v);
      sparkMinute.set(q.symbol, minute);
      if (pts.length > 960) pts.splice(0, pts.length - 960);
    }
    schedule();
  }

  function render() {
    frame = 0;
    const now = performance.now();
    for (const { q, flash } of pending.values()) applyQuote(q, flash, now);
    pending.clear();
    const work = onFrame;
    onFrame = [];
    for (const f of work) f();
  }

  // bound caches, per symbol, the elements that show it and their cells,
  // so a frame touches only what changes; a removed element drops its
  // symbol's entry.
  const bound = new Map(); // symbol -> [{el, cells: [[cell, field]]}]
  function bind(sym) {
    let b = bound.get(sym);
    if (b && b.every((x) => x.el.isConnected)) return b;
    b = [];
    for (const el of document.querySelectorAll('[data-live][data-symbol="' + CSS.escape(sym) + '"]')) {
      if (el.closest("template")) continue;
      const cells = [];
      for (const cell of el.querySelectorAll("[data-field]")) cells.push([cell, cell.dataset.field]);
      b.push({ el, cells });
    }
    bound.set(sym, b);
    return b;
  }

  function setData(el, key, v) {
    if (el.dataset[key] !== v) el.dataset[key] = v; // same value: no style work
  }

  // Sparklines redraw at most once a second each: they show the session,
  // not the tick.
  const SPARK_EVERY = 1000;
  const sparkDrawn = new Map(); // symbol -> performance.now() of the last draw
  const sparkDirty = new Set();

  function applyQuote(q, flash, now) {
    const c = change(q);
    for (const { el, cells } of bind(q.symbol)) {
      setData(el, "state", q.state || "");
      for (const [cell, field] of cells) {
        if (field === "spark") {
          if (now - (sparkDrawn.get(q.symbol) || 0) >= SPARK_EVERY) {
            drawSpark(cell, q.symbol);
            sparkDrawn.set(q.symbol, now);
            sparkDirty.delete(q.symbol);
          } else {
            sparkDirty.add(q.symbol);
          }
          continue;
        }
        if (!FIELDS.includes(field)) continue;
        const next = text(q, field, c);
        if (field === "change" || field === "pct") setData(cell, "dir", c ? c.dir : "");
        if (field === "ts") setData(cell, "ts", q.ts || "");
        if (cell.textContent === next) continue;
        if (flash && FLASH[field]) {
          const a = parseFloat(cell.textContent), b = parseFloat(next);
          if (Number.isFinite(a) && Number.isFinite(b) && a !== b) {
            setData(cell, "flash", b > a ? "up" : "down");
            flashing.set(cell, now + FLASH_MS);
          }
        }
        cell.textContent = next;
      }
    }
  }

  // Flashes end in a sweep a few times a second, not in an animation.
  const FLASH_MS = 500;
  const flashing = new Map(); // cell -> performance.now() when its flash ends
  function sweepFlashes() {
    const now = performance.now();
    for (const [cell, end] of flashing) {
      if (end > now) continue;
      delete cell.dataset.flash;
      flashing.delete(cell);
    }
  }
  setInterval(() => {
    if (!flashing.size) return;
    onFrame.push(sweepFlashes);
    schedule();
  }, 100);

  setInterval(() => {
    if (!sparkDirty.size) return;
    onFrame.push(() => {
      const now = performance.now();
      for (const sym of sparkDirty) {
        for (const { cells } of bind(sym)) for (const [cell, field] of cells) if (field === "spark") drawSpark(cell, sym);
        sparkDrawn.set(sym, now);
      }
      sparkDirty.clear();
    });
    schedule();
  }, SPARK_EVERY);

  function sparkPrice(q) {
    if (q.last && decimalRE.test(q.last)) return q.last;
    const b = units(q.bid), a = units(q.ask);
    return b && a ? fromUnits((a + b) / 2n) : "";
  }

  function sparkFor(sym) {
    let pts = sparks.get(sym);
    if (!pts) {
      pts = [];
      const svg = document.querySelector('tr[data-symbol="' + CSS.escape(sym) + '"] svg.spark');
      if (svg && svg.dataset.values) for (const v of svg.dataset.values.split(" ")) if (decimalRE.test(v)) pts.push(v);
      // The server's last point is the price now, of this minute.
      if (pts.length) sparkMinute.set(sym, Math.floor(Date.now() / 60000));
      sparks.set(sym, pts);
    }
    return pts;
  }

  function drawSpark(cell, sym) {
    const line = cell.querySelector("polyline");
    const pts = sparks.get(sym);
    if (!line || !pts || pts.length < 2) return;
    let lo = Infinity, hi = -Infinity;
    const ys = pts.map(Number);
    for (const y of ys) { if (y < lo) lo = y; if (y > hi) hi = y; }
    const out = new Array(ys.length);
    for (let i = 0; i < ys.length; i++) {
      const y = hi > lo ? 1 + 22 * (1 - (ys[i] - lo) / (hi - lo)) : 12;
      out[i] = (i * 100 / (ys.length - 1)).toFixed(1) + "," + y.toFixed(1);
    }
    line.setAttribute("points", out.join(" "));
    const first = ys[0], last = ys[ys.length - 1];
    setData(cell, "dir", last > first ? "up" : last < first ? "down" : "");
  }

  document.addEventListener("tape:quote", (e) => queue(e.detail, true));
  document.addEventListener("tape:snapshot", (e) => {
    // A reset redraws every value at once in the next frame, without
    // flashes: the values did not tick, the view was resynchronised.
    for (const q of e.detail.quotes || []) queue(q, false);
  });

  // --- the status indicator ---

  const status = document.getElementById("status");
  const age = document.getElementById("age");
  const LABEL = { live: "live", reconnecting: "reconnecting…", stale: "stale", connecting: "connecting…", idle: "—" };

  function ago(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return s + "s";
    if (s < 3600) return Math.floor(s / 60) + "m " + (s % 60) + "s";
    return Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m";
  }

  function showState() {
    if (!status) return;
    const st = !wanted.length ? "idle" : conn.state in LABEL ? conn.state : "connecting";
    status.className = "status " + st;
    status.textContent = LABEL[st];
    status.title = conn.why || (conn.node ? "streaming from " + conn.node : "");
    document.body.classList.toggle("stale", st === "reconnecting" || st === "stale");
    showAge();
  }

  // feedClock is the feed's own time: the newest quote's, "as of
  // 2026-11-20 14:35:45Z" (a recording's clock during a replay).
  function feedClock(ms) {
    const d = new Date(ms);
    if (localTime()) {
      return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
        pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
    }
    return d.toISOString().slice(0, 19).replace("T", " ") + "Z";
  }

  function showAge() {
    if (!age) return;
    const now = Date.now();
    let t = "";
    if (conn.newest) {
      t = "as of " + feedClock(conn.newest);
      // Say how old it is only when that is news: a quiet feed, or a
      // recorded session.
      if (now - conn.newest >= 10000) t += " (" + ago(now - conn.newest) + " ago)";
    }
    if (conn.state !== "live" && conn.since) {
      t = (conn.state === "stale" ? "feed stale " : "since ") + ago(now - conn.since) + (t ? " · " + t : "");
    }
    age.textContent = t;
  }

  document.addEventListener("tape:state", showState); // shows conn.state, "connecting" included
  setInterval(showAge, 1000);

  // --- theme and time zone toggles ---

  const root = document.documentElement;
  const themeButton = document.getElementById("theme");
  if (themeButton) {
    themeButton.addEventListener("click", () => {
      const dark = root.dataset.theme ? root.dataset.theme === "dark" : matchMedia("(prefers-color-scheme: dark)").matches;
      root.dataset.theme = dark ? "light" : "dark";
      try { localStorage.setItem("tape.theme", root.dataset.theme); } catch (e) { /* not remembered */ }
    });
  }
  const tzButton = document.getElementById("tz");
  function showTZ() {
    const name = localTime() ? "local" : "UTC";
    if (tzButton) tzButton.textContent = name;
    for (const el of document.querySelectorAll(".tzname")) el.textContent = name;
    for (const el of document.querySelectorAll("[data-ts]")) if (el.dataset.ts) el.textContent = clock(el.dataset.ts);
  }
  if (tzButton) {
    tzButton.addEventListener("click", () => {
      if (localTime()) delete root.dataset.tz; else root.dataset.tz = "local";
      try { localStorage.setItem("tape.tz", localTime() ? "local" : "utc"); } catch (e) { /* not remembered */ }
      showTZ();
    });
  }
  if (localTime()) showTZ();

  // --- the watchlist ---

  const table = document.getElementById("watchlist");
  if (table) watchlist(table);

  function watchlist(table) {
    const body = table.tBodies[0];
    const rowTemplate = document.getElementById("row-template");
    const search = document.getElementById("search");
    const form = document.getElementById("add");
    const suggest = document.getElementById("suggest");
    const empty = document.querySelector(".watchlist .empty");
    const hidden = form ? form.querySelector('input[name="symbols"]') : null;
    const params = new URLSearchParams(location.search);
    let sort = parseSort(params.get("sort") || store("tape.sort") || "");
    let lastSort = 0;

    function store(key, value) {
      try {
        if (value === undefined) return localStorage.getItem(key);
        localStorage.setItem(key, value);
      } catch (e) { /* not remembered */ }
      return null;
    }

    function parseSort(s) {
      const m = /^(-?)(symbol|last|change|pct|bid|ask|spread|volume|ts)$/.exec(s || "");
      return m ? { field: m[2], desc: m[1] === "-" } : null;
    }

    function rows() { return Array.from(body.rows).filter((r) => r.dataset.symbol); }
    function list() { return rows().map((r) => r.dataset.symbol); }

    // save puts the list (and sort) in the URL, shareable, and in
    // localStorage, remembered; the stream follows.
    function save() {
      const syms = list();
      const p = new URLSearchParams(location.search);
      p.delete("add");
      p.set("symbols", syms.join(","));
      if (sort) p.set("sort", (sort.desc ? "-" : "") + sort.field); else p.delete("sort");
      history.replaceState(null, "", location.pathname + "?" + p.toString().replace(/%2C/g, ","));
      store("tape.watchlist", syms.join(","));
      store("tape.sort", sort ? (sort.desc ? "-" : "") + sort.field : "");
      if (hidden) hidden.value = syms.join(",");
      if (empty) empty.hidden = syms.length > 0;
      setSymbols(syms);
    }

    function newRow(sym) {
      const tr = rowTemplate.content.firstElementChild.cloneNode(true);
      tr.dataset.symbol = sym;
      const a = tr.querySelector("th a");
      a.href = "/s/" + encodeURIComponent(sym);
      a.textContent = sym;
      const rm = tr.querySelector("button.remove");
      if (rm) rm.setAttribute("aria-label", "Remove " + sym);
      return tr;
    }

    function add(sym) {
      sym = String(sym || "").trim().toUpperCase();
      if (!symbolRE.test(sym)) return false;
      if (!list().includes(sym)) {
        body.appendChild(newRow(sym));
        applySort();
        save();
      }
      const tr = body.querySelector('tr[data-symbol="' + CSS.escape(sym) + '"]');
      if (tr) tr.scrollIntoView({ block: "nearest" });
      return true;
    }

    function remove(tr) {
      const next = tr.nextElementSibling || tr.previousElementSibling;
      sparks.delete(tr.dataset.symbol);
      tr.remove();
      save();
      if (next && next.dataset.symbol) focusRow(next);
    }

    function value(tr, field) {
      if (field === "symbol") return tr.dataset.symbol;
      const cell = tr.querySelector('[data-field="' + field + '"]');
      if (!cell) return null;
      if (field === "ts") return cell.dataset.ts || null;
      const n = parseFloat(cell.textContent.replace(/[,+%]/g, ""));
      return Number.isFinite(n) ? n : null;
    }

    function applySort() {
      for (const th of table.tHead.rows[0].cells) {
        if (th.dataset.sort) th.setAttribute("aria-sort", sort && sort.field === th.dataset.sort ? (sort.desc ? "descending" : "ascending") : "none");
      }
      if (!sort) return;
      const all = rows();
      const keyed = all.map((tr) => [value(tr, sort.field), tr]);
      keyed.sort((x, y) => {
        const a = x[0], b = y[0];
        if (a === b) return 0;
        if (a === null) return 1; // empty cells last either way
        if (b === null) return -1;
        const c = a < b ? -1 : 1;
        return sort.desc ? -c : c;
      });
      if (keyed.every(([, tr], i) => tr === all[i])) return;
      for (const [, tr] of keyed) body.appendChild(tr);
    }

    // Live values move rows at most once a second, so a row does not jump
    // under the pointer at every tick.
    document.addEventListener("tape:quote", () => {
      if (!sort || sort.field === "symbol") return;
      const now = Date.now();
      if (now - lastSort < 1000) return;
      lastSort = now;
      onFrame.push(applySort);
      schedule();
    });
    document.addEventListener("tape:snapshot", () => { onFrame.push(applySort); schedule(); });

    table.tHead.addEventListener("click", (e) => {
      const th = e.target.closest("th[data-sort]");
      if (!th) return;
      const field = th.dataset.sort;
      sort = sort && sort.field === field ? { field, desc: !sort.desc } : { field, desc: field !== "symbol" };
      applySort();
      save();
    });

    body.addEventListener("click", (e) => {
      const rm = e.target.closest("button.remove");
      if (rm) remove(rm.closest("tr"));
    });

    function focusRow(tr) {
      for (const r of rows()) r.tabIndex = -1;
      tr.tabIndex = 0;
      tr.focus();
    }

    body.addEventListener("keydown", (e) => {
      const tr = e.target.closest("tr[data-symbol]");
      if (!tr || e.target !== tr) return;
      switch (e.key) {
        case "ArrowDown": if (tr.nextElementSibling) focusRow(tr.nextElementSibling); break;
        case "ArrowUp": if (tr.previousElementSibling) focusRow(tr.previousElementSibling); else if (search) search.focus(); break;
        case "Enter": location.href = tr.querySelector("th a").href; break;
        case "Delete": case "Backspace": remove(tr); break;
        default: return;
      }
      e.preventDefault();
    });

    document.addEventListener("keydown", (e) => {
      if (e.key !== "/" || e.ctrlKey || e.metaKey || e.altKey) return;
      const t = e.target;
      if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
      e.preventDefault();
      if (search) search.focus();
    });

    if (form && search) {
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        if (add(search.value)) {
          search.value = "";
          search.removeAttribute("aria-invalid");
        } else {
          search.setAttribute("aria-invalid", "true");
        }
      });
      search.addEventListener("keydown", (e) => {
        if (e.key === "Escape") search.blur();
        else if (e.key === "ArrowDown" && !search.value) {
          const first = rows()[0];
          if (first) { e.preventDefault(); focusRow(first); }
        }
      });
      let timer = 0;
      search.addEventListener("input", () => {
        clearTimeout(timer);
        timer = setTimeout(() => suggestFor(search.value.trim().toUpperCase()), 120);
      });
    }

    // Suggestions come from /api/symbols?prefix=; a node without it
    // (older) is searched through the pages of /api/quotes instead.
    let known = null;
    let useSymbolsAPI = true;
    let asked = "";
    async function suggestFor(prefix) {
      asked = prefix;
      if (!prefix || !suggest) return;
      let found = [];
      try {
        if (useSymbolsAPI) {
          const res = await fetch("/api/symbols?prefix=" + encodeURIComponent(prefix) + "&limit=20", { cache: "no-store" });
          if (res.status === 404 || res.status === 405) useSymbolsAPI = false;
          else if (res.ok) found = ((await res.json()).symbols || []).filter((s) => typeof s === "string");
        }
        if (!useSymbolsAPI) {
          if (!known) known = await allSymbols();
          found = known.filter((s) => s.startsWith(prefix)).slice(0, 20);
        }
      } catch (e) { return; }
      if (asked !== prefix) return;
      const have = list();
      suggest.replaceChildren(...found.filter((s) => !have.includes(s)).map((s) => {
        const o = document.createElement("option");
        o.value = s;
        return o;
      }));
    }

    async function allSymbols() {
      const out = [];
      let after = "";
      for (let page = 0; page < 20; page++) {
        const res = await fetch("/api/quotes?limit=1000" + (after ? "&after=" + encodeURIComponent(after) : ""), { cache: "no-store" });
        if (!res.ok) break;
        const body = await res.json();
        for (const q of body.quotes || []) if (typeof q.symbol === "string") out.push(q.symbol);
        if (!body.next) break;
        after = body.next;
      }
      return out;
    }

    // A watchlist opened without ?symbols= is the one this browser last
    // had, when it kept one.
    if (!params.has("symbols")) {
      const stored = parseList(store("tape.watchlist") || "");
      if (stored.length && stored.join(",") !== list().join(",")) {
        body.replaceChildren(...stored.map(newRow));
      }
    }
    for (const tr of rows()) {
      for (const svg of tr.querySelectorAll("svg.spark")) if (svg.dataset.values) sparkFor(tr.dataset.symbol);
    }
    if (rows()[0]) rows()[0].tabIndex = 0;
    applySort();
    if (params.has("symbols") || params.has("add") || list().join(",") !== wanted.join(",")) save();
  }

  // --- the canvas chart and ticks of the symbol page that marks itself
  // data-canvas-chart (pages with their own script, market.js, do not) ---

  const symbolRoot = document.querySelector("section.symbol[data-symbol][data-canvas-chart]");
  const chart = symbolRoot && symbolRoot.querySelector("canvas#chart");
  const ticks = symbolRoot && symbolRoot.querySelector("#ticks tbody");
  if (symbolRoot && (chart || ticks)) symbolPage(symbolRoot.dataset.symbol);

  function symbolPage(sym) {
    const points = readTicks();
    function readTicks() {
      const el = document.getElementById("tick-data");
      if (!el || el.tagName !== "SCRIPT") return [];
      try { return JSON.parse(el.textContent) || []; } catch (e) { return []; }
    }
    function addTick(q) {
      if (!ticks) return;
      const tr = document.createElement("tr");
      for (const [v, num, ts] of [[clock(q.ts), false, q.ts], [q.bid || "—", true], [q.ask || "—", true], [q.last || "—", true], [formatVolume(q.last_size), true]]) {
        const td = document.createElement("td");
        if (num) td.className = "num";
        if (ts) td.dataset.ts = ts;
        td.textContent = v;
        tr.appendChild(td);
      }
      ticks.insertBefore(tr, ticks.firstChild);
      while (ticks.children.length > 20) ticks.removeChild(ticks.lastChild);
    }
    let dirty = false;
    function draw() {
      dirty = false;
      if (!chart) return;
      const ctx = chart.getContext("2d");
      const w = chart.width, h = chart.height;
      ctx.clearRect(0, 0, w, h);
      const ys = [];
      for (const p of points) for (const k of ["last", "bid", "ask"]) if (p[k]) ys.push(parseFloat(p[k]));
      if (ys.length < 2) return;
      let lo = Math.min(...ys), hi = Math.max(...ys);
      if (hi === lo) { hi += 1; lo -= 1; }
      const t0 = points[0].t, t1 = points[points.length - 1].t || t0 + 1;
      const x = (t) => 40 + (w - 50) * ((t - t0) / Math.max(1, t1 - t0));
      const y = (v) => 10 + (h - 20) * (1 - (v - lo) / (hi - lo));
      const css = getComputedStyle(document.documentElement);
      const line = (key, color) => {
        ctx.strokeStyle = color;
        ctx.beginPath();
        let started = false;
        for (const p of points) {
          if (!p[key]) continue;
          const px = x(p.t), py = y(parseFloat(p[key]));
          if (started) ctx.lineTo(px, py); else { ctx.moveTo(px, py); started = true; }
        }
        ctx.stroke();
      };
      line("bid", css.getPropertyValue("--up").trim() || "#3a7d44");
      line("ask", css.getPropertyValue("--down").trim() || "#a33b3b");
      ctx.lineWidth = 2;
      line("last", css.getPropertyValue("--fg").trim() || "#e0e0e0");
      ctx.lineWidth = 1;
      ctx.fillStyle = css.getPropertyValue("--muted").trim() || "#999";
      ctx.fillText(String(hi), 2, 12);
      ctx.fillText(String(lo), 2, h - 2);
    }
    document.addEventListener("tape:quote", (e) => {
      const q = e.detail;
      if (q.symbol !== sym) return;
      points.push({ t: Date.parse(q.ts), last: q.last || "", bid: q.bid || "", ask: q.ask || "" });
      if (points.length > 600) points.splice(0, points.length - 600);
      addTick(q);
      if (!dirty) { dirty = true; onFrame.push(draw); schedule(); }
    });
    draw();
  }

  holdTabLock(startHub);
})();
