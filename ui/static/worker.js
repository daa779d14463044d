// tape stream hub: one event stream per browser, shared by every tab.
//
// It runs as a SharedWorker (one per origin and asset version) and, where
// SharedWorker is missing, as a dedicated Worker of the tab that holds the
// "tape-leader" lock (app.js relays the other tabs over a
// BroadcastChannel). Tabs say which symbols they want; the hub streams the
// union of them from /events and hands each tab only its symbols' events,
// plus a snapshot from its cache when the tab joins.
//
// A node takes a bounded number of symbols per stream (--max-symbols,
// 100 by default); a union larger than that is split over several
// streams, each symbol staying on its stream while it is wanted, so no
// symbol ever changes resume position.
//
// The hub reconnects after any failure itself: the browser's EventSource
// gives up for good on any non-200 answer (WHATWG HTML, "fail the
// connection": a draining node's 503, a 429, a proxy's 502), so every
// error closes it and a new one is opened after a jittered exponential
// backoff that honours Retry-After, resuming from the last event id (the
// lastEventId query parameter, which every node accepts), on another node
// from the "nodes" event when its own does not answer.
"use strict";

// Backoff bounds (ms): the first retry comes after ~0.25-0.75 s, and no
// retry waits more than ~MAX_BACKOFF (or a longer Retry-After).
const BASE_BACKOFF = 500;
const MAX_BACKOFF = 30000;
// MAX_RETRY_AFTER caps a server's Retry-After (s) so a wrong header
// cannot park a page for hours.
const MAX_RETRY_AFTER = 300;
// UNION_DELAY lets tabs opening together share one stream (re)start.
const UNION_DELAY = 30;
// SILENT: a stream that has given nothing for this long (ms) is reopened
// from its last id. A node sends heartbeats every 15 s, but as comments,
// which an EventSource does not show; a connection that died without a
// reset (a node's power, a NAT) would otherwise look open for good.
const SILENT = 60000;

const tabs = new Map(); // tab id -> {send, symbols: Set}
const cache = new Map(); // symbol -> newest quote object
let limit = 100; // symbols per stream; a node's 400 may say less
let origin = ""; // the pages' own origin, always a candidate
let nodes = []; // the last "nodes" event's list
let streams = []; // the streams, each {symbols, es, lastId, base, ...}
let shown = { state: "connecting", since: Date.now(), why: "" }; // what tabs were told

function now() { return Date.now(); }

// seqOf parses a quote's fold position "partition/offset".
function seqOf(q) {
  const m = /^(\d+)\/(\d+)$/.exec(q && q.seq ? String(q.seq) : "");
  return m ? [Number(m[1]), BigInt(m[2])] : null;
}

// older reports whether q is known to be older than have, a quote of the
// same symbol: the same partition at a smaller offset (tape.Seq.After).
function older(q, have) {
  if (!have) return false;
  const a = seqOf(q), b = seqOf(have);
  return !!(a && b && a[0] === b[0] && a[1] < b[1]);
}

function tsOf(q) {
  const t = q && q.ts ? Date.parse(q.ts) : NaN;
  return Number.isFinite(t) ? t : 0;
}

function newestOf(symbols) {
  let n = 0;
  for (const s of symbols) n = Math.max(n, tsOf(cache.get(s)));
  return n;
}

function publicState(tab) {
  return { t: "state", state: shown.state, since: shown.since, newest: newestOf(tab.symbols), node: streams.length ? streams[0].base : "", why: shown.why };
}

// RANK orders states by how much a tab must know: one stream
// reconnecting makes the page's prices partly old.
const RANK = { live: 0, connecting: 1, stale: 2, reconnecting: 3 };

// report tells the tabs the state of all streams together when it, or
// the newest failure, changed.
function report() {
  let worst = null;
  let why = "";
  for (const st of streams) {
    if (!worst || RANK[st.state] > RANK[worst.state]) worst = st;
    if (st.why && !why) why = st.why;
  }
  const state = worst ? worst.state : "connecting";
  const since = worst ? worst.since : shown.since;
  if (state === shown.state && why === shown.why) return;
  shown = { state, since: state === shown.state ? shown.since : since, why };
  for (const tab of tabs.values()) tab.send(publicState(tab));
}

function setState(st, next, at) {
  if (st.feedStale && next === "live") next = "stale";
  if (next !== st.state) {
    st.state = next;
    st.since = at || now();
  }
  report();
}

// --- tabs ---

function join(id, send, symbols, pageOrigin) {
  if (!origin && pageOrigin) origin = pageOrigin;
  const tab = { send, symbols: new Set(symbols) };
  tabs.set(id, tab);
  const quotes = [];
  for (const s of tab.symbols) if (cache.has(s)) quotes.push(cache.get(s));
  send({ t: "snapshot", quotes, reset: false });
  send(publicState(tab));
  if (nodes.length) send({ t: "nodes", nodes });
  unionChanged();
}

function setSymbols(id, symbols) {
  const tab = tabs.get(id);
  if (!tab) return;
  const before = tab.symbols;
  tab.symbols = new Set(symbols);
  const quotes = [];
  for (const s of tab.symbols) if (!before.has(s) && cache.has(s)) quotes.push(cache.get(s));
  if (quotes.length) tab.send({ t: "quotes", quotes });
  tab.send(publicState(tab));
  unionChanged();
}

function leave(id) {
  if (tabs.delete(id)) unionChanged();
}

function deliver(quotes) {
  for (const tab of tabs.values()) {
    let mine = null;
    for (const q of quotes) {
      if (tab.symbols.has(q.symbol)) (mine || (mine = [])).push(q);
    }
    if (mine) tab.send({ t: "quotes", quotes: mine });
  }
}

// --- the streams ---

function newStream() {
  return { symbols: [], es: null, lastId: "", base: "", failures: 0, retryAfter: 0, timer: 0,
    state: "connecting", since: now(), why: "", feedStale: false, heard: 0,
    needQuotes: new Set() }; // symbols a resumed stream did not carry: their quotes come from the JSON API once it is open
}

let unionTimer = 0;
function unionChanged() {
  if (unionTimer) return;
  unionTimer = setTimeout(() => {
    unionTimer = 0;
    const all = new Set();
    for (const tab of tabs.values()) for (const s of tab.symbols) all.add(s);
    for (const s of Array.from(cache.keys())) if (!all.has(s)) cache.delete(s);
    // Symbols keep their stream; gone ones leave it; new ones fill the
    // streams with room, then new streams.
    const changed = new Map(); // stream -> added symbols
    const placed = new Set();
    for (const st of streams) {
      const keep = st.symbols.filter((s) => all.has(s));
      if (keep.length !== st.symbols.length) changed.set(st, []);
      st.symbols = keep;
      for (const s of keep) placed.add(s);
    }
    for (const s of Array.from(all).sort()) {
      if (placed.has(s)) continue;
      let st = streams.find((x) => x.symbols.length < limit);
      if (!st) {
        st = newStream();
        streams.push(st);
      }
      st.symbols.push(s);
      if (!changed.has(st)) changed.set(st, []);
      changed.get(st).push(s);
    }
    for (const st of streams) if (!st.symbols.length) stop(st);
    streams = streams.filter((st) => st.symbols.length);
    // A stream whose symbols changed is reopened from its last id, so its
    // symbols miss nothing; symbols it did not carry get their current
    // quotes from the JSON API.
    for (const [st, added] of changed) {
      if (!st.symbols.length) continue;
      st.symbols.sort();
      if (st.lastId) for (const s of added) st.needQuotes.add(s);
      if (!st.timer) open(st);
    }
    report();
  }, UNION_DELAY);
}

function stop(st) {
  if (st.es) st.es.close();
  st.es = null;
  clearTimeout(st.timer);
  st.timer = 0;
}

function candidates(st) {
  const out = [];
  const add = (u) => { if (u && !out.includes(u)) out.push(u); };
  add(st.base);
  add(origin);
  for (const n of nodes) if (n && n.ready !== false && typeof n.url === "string" && /^https?:\/\//.test(n.url)) add(n.url.replace(/\/+$/, ""));
  return out;
}

// DELTA_KEYS are the short keys of delta events (tape.DeltaKeys): a delta
// names what changed in a symbol's quote since the one the stream sent
// before, so it costs a third of the bytes of a full quote.
const DELTA_KEYS = {
  s: "symbol", k: "kind", b: "bid", a: "ask", bs: "bid_size", as: "ask_size",
  l: "last", ls: "last_size", v: "volume", o: "open", h: "high", lo: "low",
  st: "state", d: "day", t: "ts", src: "source", p: "print",
};

// applyDelta returns the quote a delta makes of the held one, or null when
// it does not fit (then the stream is opened again, from its last id).
function applyDelta(held, d) {
  if (!held || !d || typeof d.s !== "string" || held.symbol !== d.s) return null;
  const q = Object.assign({}, held);
  for (const k of Object.keys(d)) {
    const full = DELTA_KEYS[k];
    if (!full) continue;
    if (k === "t") {
      // "N:TAIL": the held ts's first N characters, then TAIL.
      const m = /^(\d{1,2}):(.*)$/.exec(String(d.t));
      if (!m || typeof held.ts !== "string" || Number(m[1]) > held.ts.length) return null;
      q.ts = held.ts.slice(0, Number(m[1])) + m[2];
      continue;
    }
    q[full] = d[k];
  }
  // origin and seq are not in deltas: the held ones are not this quote's.
  delete q.origin;
  delete q.seq;
  return q;
}

function streamURL(st, at, withId) {
  let u = at + "/events?encoding=delta&symbols=" + st.symbols.map(encodeURIComponent).join(",");
  if (withId && st.lastId) u += "&lastEventId=" + encodeURIComponent(st.lastId);
  return u;
}

function open(st) {
  stop(st);
  if (!st.symbols.length) return;
  if (!st.base) st.base = origin;
  const src = new EventSource(streamURL(st, st.base, true));
  st.es = src;
  st.heard = now();
  const mine = () => {
    if (st.es !== src) return false;
    st.heard = now();
    return true;
  };
  src.onopen = () => {
    if (!mine()) return;
    st.failures = 0;
    st.why = "";
    setState(st, "live");
    if (st.needQuotes.size) {
      const want = Array.from(st.needQuotes).filter((s) => st.symbols.includes(s));
      st.needQuotes.clear();
      if (want.length) fetchQuotes(st, want);
    }
  };
  src.onerror = () => {
    if (!mine()) return;
    // Whatever happened (the node closed the stream, refused it, or is
    // gone), this hub decides when and where to reconnect.
    src.close();
    st.es = null;
    st.why = "the stream to " + st.base + " ended";
    retry(st);
  };
  src.addEventListener("snapshot", (e) => {
    if (!mine()) return;
    if (e.lastEventId) st.lastId = e.lastEventId;
    let snap;
    try { snap = JSON.parse(e.data); } catch (err) { return; }
    const quotes = (Array.isArray(snap.quotes) ? snap.quotes : []).filter((q) => q && typeof q.symbol === "string");
    // A snapshot is the node's whole view of these symbols: a reset.
    st.needQuotes.clear();
    for (const s of st.symbols) cache.delete(s);
    for (const q of quotes) cache.set(q.symbol, q);
    for (const tab of tabs.values()) {
      tab.send({ t: "snapshot", quotes: quotes.filter((q) => tab.symbols.has(q.symbol)), reset: true, reason: String(snap.reason || "") });
    }
    setState(st, "live");
  });
  src.addEventListener("quote", (e) => {
    if (!mine()) return;
    if (e.lastEventId) st.lastId = e.lastEventId;
    let q;
    try { q = JSON.parse(e.data); } catch (err) { return; }
    if (!q || typeof q.symbol !== "string") return;
    cache.set(q.symbol, q);
    batch.push(q);
    if (!batchTimer) batchTimer = setTimeout(flush, 0);
    if (st.state !== "live" && !st.feedStale) setState(st, "live");
  });
  // Deltas are events without a name.
  src.onmessage = (e) => {
    if (!mine()) return;
    let d;
    try { d = JSON.parse(e.data); } catch (err) { return; }
    const q = applyDelta(d && cache.get(d.s), d);
    if (!q) {
      // A delta for a quote this worker does not hold: start again from
      // the last id, which sends full quotes first.
      src.close();
      st.es = null;
      st.why = "a delta did not fit";
      retry(st);
      return;
    }
    if (e.lastEventId) st.lastId = e.lastEventId;
    cache.set(q.symbol, q);
    batch.push(q);
    if (!batchTimer) batchTimer = setTimeout(flush, 0);
    if (st.state !== "live" && !st.feedStale) setState(st, "live");
  };
  src.addEventListener("status", (e) => {
    if (!mine()) return;
    let v;
    try { v = JSON.parse(e.data); } catch (err) { return; }
    if (v.feed === "stale") {
      const at = Date.parse(v.since);
      st.feedStale = true;
      setState(st, "stale", Number.isFinite(at) ? at : now());
    } else {
      st.feedStale = false;
      setState(st, "live");
    }
  });
  src.addEventListener("nodes", (e) => {
    if (!mine()) return;
    let v;
    try { v = JSON.parse(e.data); } catch (err) { return; }
    if (!v || !Array.isArray(v.nodes)) return;
    nodes = v.nodes;
    for (const tab of tabs.values()) tab.send({ t: "nodes", nodes });
  });
}

setInterval(() => {
  for (const st of streams) {
    if (st.es && st.es.readyState === 1 && now() - st.heard > SILENT) open(st); // resumes from lastId
  }
}, SILENT / 4);

// Quotes that arrive together go to the tabs in one message each.
let batch = [];
let batchTimer = 0;
function flush() {
  batchTimer = 0;
  const qs = batch;
  batch = [];
  deliver(qs);
}

function backoff(st) {
  if (st.retryAfter > 0) {
    const s = Math.min(st.retryAfter, MAX_RETRY_AFTER);
    st.retryAfter = 0;
    return s * 1000 * (1 + Math.random() * 0.5);
  }
  const cap = Math.min(MAX_BACKOFF, BASE_BACKOFF * 2 ** Math.min(st.failures - 1, 16));
  return cap * (0.5 + Math.random() * 0.5);
}

function retry(st) {
  st.failures++;
  st.feedStale = false;
  setState(st, "reconnecting");
  clearTimeout(st.timer);
  st.timer = setTimeout(() => probe(st), backoff(st));
}

// probe asks the node with a HEAD of the stream URL whether it would take
// the stream, which tells what an EventSource cannot: the status and its
// Retry-After. A node that does not answer, or refuses, is left for the
// next candidate.
async function probe(st) {
  st.timer = 0;
  if (!streams.includes(st) || !st.symbols.length) return;
  const list = candidates(st);
  const at = list[(st.failures - 1) % list.length] || origin;
  let res = null;
  try {
    res = await fetch(streamURL(st, at, false), { method: "HEAD", cache: "no-store" });
  } catch (err) {
    res = null; // gone, or not allowed cross-origin
    st.why = at + " does not answer";
  }
  if (!streams.includes(st) || !st.symbols.length || st.es || st.timer) return;
  if (res && res.ok) {
    st.base = at;
    open(st);
    return;
  }
  if (res) {
    const ra = parseInt(res.headers.get("Retry-After") || "", 10);
    if (ra > 0) st.retryAfter = ra;
    st.why = at + " answered " + res.status + (ra > 0 ? ", retry after " + ra + "s" : "");
    if (res.status === 400 && await fewerSymbols(st, at)) return;
  }
  retry(st);
}

// fewerSymbols learns, when a node refuses a stream as too large, how many
// symbols it takes, and spreads the symbols over more streams.
async function fewerSymbols(st, at) {
  let body = null;
  try {
    const res = await fetch(at + "/api/quotes?symbols=" + st.symbols.map(encodeURIComponent).join(","), { cache: "no-store" });
    body = await res.json();
  } catch (err) {
    return false;
  }
  const e = body && body.error;
  const m = e && e.code === "too_many_symbols" ? /limit is (\d+)/.exec(String(e.message)) : null;
  const n = m ? parseInt(m[1], 10) : 0;
  if (!(n > 0 && n < st.symbols.length)) return false;
  limit = n;
  // Those past the limit leave this stream; the union puts them on others.
  st.symbols = st.symbols.slice(0, n);
  clearTimeout(st.timer);
  st.timer = 0;
  open(st);
  unionChanged();
  return true;
}

// fetchQuotes gets the current quotes of symbols new to a resumed stream.
async function fetchQuotes(st, symbols) {
  let list = symbols;
  for (let tries = 0; tries < 2 && list.length; tries++) {
    let res;
    try {
      res = await fetch((st.base || origin) + "/api/quotes?symbols=" + list.map(encodeURIComponent).join(","), { cache: "no-store" });
    } catch (err) {
      return;
    }
    let body;
    try { body = await res.json(); } catch (err) { return; }
    if (res.ok && body && Array.isArray(body.quotes)) {
      const fresh = [];
      for (const q of body.quotes) {
        if (!q || typeof q.symbol !== "string" || !st.symbols.includes(q.symbol)) continue;
        const have = cache.get(q.symbol);
        if (have && !older(have, q)) continue; // the stream's is as new
        cache.set(q.symbol, q);
        fresh.push(q);
      }
      deliver(fresh);
      return;
    }
    // Symbols the node has never seen are refused by name: ask again
    // without them (their first quote comes on the stream).
    const unknown = body && body.error && Array.isArray(body.error.symbols) ? body.error.symbols : [];
    if (!unknown.length) return;
    list = list.filter((s) => !unknown.includes(s));
  }
}

// --- wiring ---

function handle(id, send, m) {
  switch (m && m.t) {
    case "hello": join(id, send, Array.isArray(m.symbols) ? m.symbols : [], String(m.origin || "")); break;
    case "symbols": setSymbols(id, Array.isArray(m.symbols) ? m.symbols : []); break;
    case "bye": leave(id); break;
  }
}

// watchTab learns that a tab is gone when its lock is released: every tab
// holds a lock named after itself for its whole life.
function watchTab(id) {
  if (self.navigator && navigator.locks) {
    navigator.locks.request("tape-tab-" + id, () => leave(id)).catch(() => {});
  }
}

if (typeof self.onconnect !== "undefined" || (typeof SharedWorkerGlobalScope !== "undefined" && self instanceof SharedWorkerGlobalScope)) {
  self.onconnect = (e) => {
    const port = e.ports[0];
    let id = "";
    port.onmessage = (ev) => {
      const m = ev.data;
      if (m && m.t === "hello") {
        id = String(m.tab);
        if (m.lock) watchTab(id);
      }
      if (id) handle(id, (msg) => port.postMessage(msg), m);
    };
    port.start();
  };
} else {
  // A dedicated worker of the leader tab: messages carry the tab they
  // come from and are answered with it, for app.js to relay.
  self.onmessage = (ev) => {
    const m = ev.data;
    if (!m || !m.tab) return;
    const id = String(m.tab);
    if (m.t === "hello" && m.lock && !tabs.has(id)) watchTab(id);
    handle(id, (msg) => { msg.to = id; self.postMessage(msg); }, m);
  };
}
