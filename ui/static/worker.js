// tape stream hub: one event stream per browser, shared by every tab.
//
// It runs as a SharedWorker (one per origin and asset version) and, where
// SharedWorker is missing, as a dedicated Worker of the tab that holds the
// "tape-leader" lock (app.js relays the other tabs over a
// BroadcastChannel). Tabs say which symbols they want; the hub streams the
// union of them from /events and hands each tab only its symbols' events,
// plus a snapshot from its cache when the tab joins.
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

const tabs = new Map(); // tab id -> {send, symbols: Set, newest}
const cache = new Map(); // symbol -> newest quote object
let union = []; // sorted symbols streamed now
let origin = ""; // the pages' own origin, always a candidate
let nodes = []; // the last "nodes" event's list
let base = ""; // the node the stream is on (or is tried next)
let es = null; // the EventSource, when one is open or opening
let lastId = ""; // the id of the newest event with one
let failures = 0; // failed attempts since the last open stream
let retryAfter = 0; // the newest Retry-After (s), used once
let timer = 0; // a pending (re)start
let state = "connecting";
let since = Date.now();
let feedStale = false; // the node says its feed is stale
let feedSince = 0;
let why = ""; // what the last failure was, for the indicator's title

function now() { return Date.now(); }

// seqOf parses a quote's fold position "partition/offset".
function seqOf(q) {
  const m = /^(\d+)\/(\d+)$/.exec(q && q.seq ? String(q.seq) : "");
  return m ? [Number(m[1]), BigInt(m[2])] : null;
}

// older reports whether q is known to be older than the cached quote of
// its symbol: the same partition at a smaller offset (tape.Seq.After).
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
  return { t: "state", state, since, newest: newestOf(tab.symbols), node: base, why };
}

let told = ""; // the failure the tabs were last told
function setState(next, at) {
  if (feedStale && next === "live") next = "stale";
  if (next === state && why === told) return;
  if (next !== state) since = at || now();
  state = next;
  told = why;
  for (const tab of tabs.values()) tab.send(publicState(tab));
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

// --- the stream ---

let unionTimer = 0;
function unionChanged() {
  if (unionTimer) return;
  unionTimer = setTimeout(() => {
    unionTimer = 0;
    const all = new Set();
    for (const tab of tabs.values()) for (const s of tab.symbols) all.add(s);
    const next = Array.from(all).sort();
    if (next.join(",") === union.join(",")) return;
    const added = next.filter((s) => !union.includes(s));
    union = next;
    for (const s of Array.from(cache.keys())) if (!all.has(s)) cache.delete(s);
    if (!union.length) {
      stop();
      return;
    }
    // A running stream is reopened for the new union from the last id,
    // so its symbols miss nothing; symbols it did not carry get their
    // current quotes from the JSON API.
    const resumed = lastId !== "";
    if (!timer) open();
    if (resumed && added.length) fetchQuotes(added);
  }, UNION_DELAY);
}

function stop() {
  if (es) es.close();
  es = null;
  clearTimeout(timer);
  timer = 0;
}

function candidates() {
  const out = [];
  const add = (u) => { if (u && !out.includes(u)) out.push(u); };
  add(base);
  add(origin);
  for (const n of nodes) if (n && n.ready !== false && typeof n.url === "string" && /^https?:\/\//.test(n.url)) add(n.url.replace(/\/+$/, ""));
  return out;
}

function streamURL(at, withId) {
  let u = at + "/events?symbols=" + union.map(encodeURIComponent).join(",");
  if (withId && lastId) u += "&lastEventId=" + encodeURIComponent(lastId);
  return u;
}

function open() {
  if (es) es.close();
  es = null;
  clearTimeout(timer);
  timer = 0;
  if (!union.length) return;
  if (!base) base = origin;
  const src = new EventSource(streamURL(base, true));
  es = src;
  src.onopen = () => {
    if (es !== src) return;
    failures = 0;
    why = "";
    setState("live");
  };
  src.onerror = () => {
    if (es !== src) return;
    // Whatever happened (the node closed the stream, refused it, or is
    // gone), this hub decides when and where to reconnect.
    src.close();
    es = null;
    why = "the stream to " + base + " ended";
    retry();
  };
  src.addEventListener("snapshot", (e) => {
    if (es !== src) return;
    if (e.lastEventId) lastId = e.lastEventId;
    let snap;
    try { snap = JSON.parse(e.data); } catch (err) { return; }
    const quotes = Array.isArray(snap.quotes) ? snap.quotes : [];
    // A snapshot is the node's whole view of these symbols: a reset.
    for (const s of union) cache.delete(s);
    for (const q of quotes) if (q && typeof q.symbol === "string") cache.set(q.symbol, q);
    for (const tab of tabs.values()) {
      tab.send({ t: "snapshot", quotes: quotes.filter((q) => tab.symbols.has(q.symbol)), reset: true, reason: String(snap.reason || "") });
    }
    setState("live");
  });
  src.addEventListener("quote", (e) => {
    if (es !== src) return;
    if (e.lastEventId) lastId = e.lastEventId;
    let q;
    try { q = JSON.parse(e.data); } catch (err) { return; }
    if (!q || typeof q.symbol !== "string") return;
    cache.set(q.symbol, q);
    batch.push(q);
    if (!batchTimer) batchTimer = setTimeout(flush, 0);
    if (state !== "live" && !feedStale) setState("live");
  });
  src.addEventListener("status", (e) => {
    if (es !== src) return;
    let st;
    try { st = JSON.parse(e.data); } catch (err) { return; }
    if (st.feed === "stale") {
      const at = Date.parse(st.since);
      feedStale = true;
      feedSince = Number.isFinite(at) ? at : now();
      setState("stale", feedSince);
    } else {
      feedStale = false;
      setState("live");
    }
  });
  src.addEventListener("nodes", (e) => {
    if (es !== src) return;
    let v;
    try { v = JSON.parse(e.data); } catch (err) { return; }
    if (!v || !Array.isArray(v.nodes)) return;
    nodes = v.nodes;
    for (const tab of tabs.values()) tab.send({ t: "nodes", nodes });
  });
}

// Quotes that arrive together go to the tabs in one message each.
let batch = [];
let batchTimer = 0;
function flush() {
  batchTimer = 0;
  const qs = batch;
  batch = [];
  deliver(qs);
}

function backoff() {
  if (retryAfter > 0) {
    const s = Math.min(retryAfter, MAX_RETRY_AFTER);
    retryAfter = 0;
    return s * 1000 * (1 + Math.random() * 0.5);
  }
  const cap = Math.min(MAX_BACKOFF, BASE_BACKOFF * 2 ** Math.min(failures - 1, 16));
  return cap * (0.5 + Math.random() * 0.5);
}

function retry() {
  failures++;
  feedStale = false;
  setState("reconnecting");
  clearTimeout(timer);
  timer = setTimeout(probe, backoff());
}

// probe asks the node with a HEAD of the stream URL whether it would take
// the stream, which tells what an EventSource cannot: the status and its
// Retry-After. A node that does not answer, or refuses, is left for the
// next candidate.
async function probe() {
  timer = 0;
  if (!union.length) return;
  const list = candidates();
  const at = list[(failures - 1) % list.length] || origin;
  let res = null;
  try {
    res = await fetch(streamURL(at, false), { method: "HEAD", cache: "no-store" });
  } catch (err) {
    res = null; // gone, or not allowed cross-origin
    why = at + " does not answer";
  }
  if (!union.length || es || timer) return;
  if (res && res.ok) {
    base = at;
    open();
    return;
  }
  if (res) {
    const ra = parseInt(res.headers.get("Retry-After") || "", 10);
    if (ra > 0) retryAfter = ra;
    why = at + " answered " + res.status + (ra > 0 ? ", retry after " + ra + "s" : "");
  }
  retry();
}

// fetchQuotes gets the current quotes of symbols new to a resumed stream.
async function fetchQuotes(symbols) {
  let list = symbols;
  for (let tries = 0; tries < 2 && list.length; tries++) {
    let res;
    try {
      res = await fetch((base || origin) + "/api/quotes?symbols=" + list.map(encodeURIComponent).join(","), { cache: "no-store" });
    } catch (err) {
      return;
    }
    let body;
    try { body = await res.json(); } catch (err) { return; }
    if (res.ok && body && Array.isArray(body.quotes)) {
      const fresh = [];
      for (const q of body.quotes) {
        if (!q || typeof q.symbol !== "string" || !union.includes(q.symbol)) continue;
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
        watchTab(id);
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
    if (m.t === "hello" && !tabs.has(id)) watchTab(id);
    handle(id, (msg) => { msg.to = id; self.postMessage(msg); }, m);
  };
}
