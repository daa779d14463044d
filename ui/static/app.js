// tape dashboard: keeps server-rendered quotes live over server-sent events.
// Prices arrive as exact decimal strings and are shown verbatim; numbers are
// parsed only to decide the tick direction and to plot.
"use strict";

(function () {
  const root = document.querySelector("[data-stream]");
  const status = document.getElementById("status");
  if (!root) {
    // Nothing known to stream yet (a fresh node, a symbol not yet quoted):
    // look again shortly rather than show a page that never ticks.
    setStatus("down", "waiting for quotes…");
    setTimeout(() => location.reload(), 3000);
    return;
  }

  const fields = ["bid", "ask", "last", "open", "high", "low", "volume", "change", "ts"];
  const chart = document.getElementById("chart");
  const points = readTicks();
  let source = null;
  let lastEvent = 0;

  function setStatus(kind, text) {
    if (!status) return;
    status.className = "status " + kind;
    status.textContent = text;
    document.body.classList.toggle("stale", kind !== "live");
  }

  // Sizes arrive as exact decimal strings ("125000", "0.011467"); only
  // the whole part gets thousands separators.
  function formatVolume(v) {
    if (v == null || v === "" || /^0(\.0*)?$/.test(String(v))) return "—";
    const [w, f] = String(v).split(".");
    return w.replace(/\B(?=(\d{3})+(?!\d))/g, ",") + (f ? "." + f : "");
  }

  function clock(ts) {
    if (!ts) return "—";
    // "2026-11-22T14:03:07.123456789Z" -> "14:03:07.123"
    const m = /T(\d\d:\d\d:\d\d)(\.\d{1,3})?/.exec(ts);
    return m ? m[1] + (m[2] || ".000").padEnd(4, "0") : ts;
  }

  // The same rule as the server's tape.PriceChange: the exact difference,
  // and hundredths of a percent of |open| rounded half away from zero,
  // all in BigInt so nothing overflows or picks up float artefacts.
  function change(q) {
    if (!q.last || !q.open) return "—";
    const d = toUnits(q.last) - toUnits(q.open);
    let o = toUnits(q.open);
    if (o < 0n) o = -o;
    const ad = d < 0n ? -d : d;
    let h = (2n * ad * 10000n + o) / (2n * o);
    const neg = d < 0n;
    const pct = (neg && h !== 0n ? "-" : "+") + String(h / 100n) + "." + String(h % 100n).padStart(2, "0");
    return (neg ? "" : "+") + fromUnits(d) + " (" + pct + "%)";
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

  function text(q, field) {
    switch (field) {
      case "volume": return formatVolume(q.volume);
      case "change": return change(q);
      case "ts": return clock(q.ts);
      default: return q[field] == null ? "—" : String(q[field]);
    }
  }

  function apply(q) {
    for (const el of document.querySelectorAll('[data-symbol="' + CSS.escape(q.symbol) + '"]')) {
      el.dataset.state = q.state || "";
      for (const field of fields) {
        const cell = el.querySelector('[data-field="' + field + '"]');
        if (!cell) continue;
        const next = text(q, field);
        if (cell.textContent === next) continue;
        if (field === "last" || field === "bid" || field === "ask") {
          const up = parseFloat(next) > parseFloat(cell.textContent);
          cell.classList.remove("up", "down");
          void cell.offsetWidth; // restart the flash animation
          cell.classList.add(up ? "up" : "down");
        }
        cell.textContent = next;
        if (field === "ts") cell.dataset.ts = q.ts;
      }
    }
    if (chart && root.dataset.symbol === q.symbol) {
      points.push({ t: Date.parse(q.ts), last: q.last || "", bid: q.bid || "", ask: q.ask || "" });
      if (points.length > 600) points.splice(0, points.length - 600);
      addTick(q);
      draw();
    }
  }

  function addTick(q) {
    const body = document.querySelector("#ticks tbody");
    if (!body) return;
    const tr = document.createElement("tr");
    for (const [v, num] of [[clock(q.ts), false], [q.bid || "—", true], [q.ask || "—", true], [q.last || "—", true], [formatVolume(q.last_size), true]]) {
      const td = document.createElement("td");
      if (num) td.className = "num";
      td.textContent = v;
      tr.appendChild(td);
    }
    body.insertBefore(tr, body.firstChild);
    while (body.children.length > 20) body.removeChild(body.lastChild);
  }

  function readTicks() {
    const el = document.getElementById("tick-data");
    if (!el || el.tagName !== "SCRIPT") return [];
    try { return JSON.parse(el.textContent) || []; } catch (e) { return []; }
  }

  function draw() {
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
    line("bid", "#3a7d44");
    line("ask", "#a33b3b");
    ctx.lineWidth = 2;
    line("last", "#e0e0e0");
    ctx.lineWidth = 1;
    ctx.fillStyle = "#999";
    ctx.fillText(String(hi), 2, 12);
    ctx.fillText(String(lo), 2, h - 2);
  }

  function connect() {
    // EventSource reconnects by itself and sends Last-Event-ID, so a
    // reconnect to any node resumes exactly where this page was.
    source = new EventSource(root.dataset.stream);
    source.addEventListener("open", () => setStatus("live", "live"));
    source.addEventListener("error", () => {
      setStatus("down", source.readyState === EventSource.CLOSED ? "disconnected" : "reconnecting…");
    });
    source.addEventListener("snapshot", (e) => {
      lastEvent = Date.now();
      const snap = JSON.parse(e.data);
      for (const q of snap.quotes || []) apply(q);
      setStatus("live", snap.reason === "expired" ? "live (resynced)" : "live");
    });
    // The node says when it cannot read its feed: prices stay on the
    // page but are marked stale until it can again.
    source.addEventListener("status", (e) => {
      const st = JSON.parse(e.data);
      if (st.feed === "stale") setStatus("down", "stale: the feed is unreachable");
      else setStatus("live", "live");
    });
    source.addEventListener("quote", (e) => {
      lastEvent = Date.now();
      apply(JSON.parse(e.data));
      if (!status.classList.contains("live")) setStatus("live", "live");
    });
  }

  draw();
  connect();
  window.tape = { get lastEvent() { return lastEvent; } };
})();
