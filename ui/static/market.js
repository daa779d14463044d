// market.js draws the market pages: the symbol page's chart, statistics
// and time and sales, the movers and the cluster. It opens no stream:
// app.js delivers quotes as tape:quote / tape:snapshot events on document
// (the page's <main data-symbols> names what it wants); movers and cluster
// ask the node's JSON API every few seconds. Feed text reaches the page
// only through textContent.
(function () {
  "use strict";
  const section = document.querySelector("section.market[data-page]");
  if (!section) return;
  const POLL_MS = 2000;

  // Exact decimals: prices and sizes are decimal strings; numbers are for
  // plotting only. Units of 10^-8, as tape.Price.
  const SCALE = 8;
  function units(s) {
    if (typeof s !== "string" || s === "") return null;
    const neg = s[0] === "-";
    const [w, f = ""] = (neg ? s.slice(1) : s).split(".");
    const v = BigInt(w || "0") * 10n ** BigInt(SCALE) + BigInt((f + "0".repeat(SCALE)).slice(0, SCALE) || "0");
    return neg ? -v : v;
  }
  function decimal(v, scale, minFrac) {
    const neg = v < 0n;
    let s = (neg ? -v : v).toString().padStart(scale + 1, "0");
    let whole = s.slice(0, s.length - scale), frac = s.slice(s.length - scale);
    while (frac.length > minFrac && frac.endsWith("0")) frac = frac.slice(0, -1);
    return (neg ? "-" : "") + whole + (frac ? "." + frac : "");
  }
  // change is tape.PriceChange: "+0.02 (+1.35%)", "—" without both.
  function change(last, open) {
    const l = units(last), o = units(open);
    if (!l || !o) return ["—", ""];
    const d = l - o, ao = o < 0n ? -o : o;
    let h = ((d < 0n ? -d : d) * 20000n + ao) / (2n * ao);
    if (d < 0n) h = -h;
    const sign = (t) => (t.startsWith("-") ? t : "+" + t);
    return [sign(decimal(d, SCALE, 2)) + " (" + sign(decimal(h, 2, 2)) + "%)", d > 0n ? "up" : d < 0n ? "down" : ""];
  }
  function grouped(s) {
    if (!s) return "—";
    const [w, f] = s.split(".");
    const g = w.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return f ? g + "." + f : g;
  }
  const dash = (s) => (s ? s : "—");
  // Times show in UTC, or in local time once the layout's toggle sets
  // <html data-tz="local"> (the layout rewrites [data-ts] cells itself).
  const localTZ = () => document.documentElement.dataset.tz === "local";
  const pad = (n, w) => String(n).padStart(w || 2, "0");
  function clock(iso) {
    if (!iso) return "—";
    const d = new Date(iso);
    if (isNaN(d)) return String(iso);
    return localTZ()
      ? pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()) + "." + pad(d.getMilliseconds(), 3)
      : iso.slice(11, 23);
  }
  // barTime writes a bar's time (Unix seconds) for the chart's axis.
  function barTime(t, seconds) {
    const d = new Date(t * 1000);
    const hms = localTZ() ? [d.getHours(), d.getMinutes(), d.getSeconds()] : [d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()];
    return pad(hms[0]) + ":" + pad(hms[1]) + (seconds ? ":" + pad(hms[2]) : "");
  }
  function feedClock(iso) {
    return iso ? iso.slice(0, 10) + " " + iso.slice(11, 19) + "Z" : "—";
  }
  function cell(tag, text, cls) {
    const el = document.createElement(tag);
    el.textContent = text;
    if (cls) el.className = cls;
    return el;
  }

  // poll calls fn every POLL_MS while the page is visible, one at a time.
  function poll(fn) {
    let timer = 0;
    async function run() {
      clearTimeout(timer);
      if (!document.hidden) {
        try { await fn(); } catch (e) { /* the next round tries again */ }
      }
      timer = setTimeout(run, POLL_MS);
    }
    document.addEventListener("visibilitychange", () => { if (!document.hidden) run(); });
    timer = setTimeout(run, POLL_MS);
  }
  async function getJSON(url) {
    const res = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
    if (!res.ok) throw new Error(url + ": " + res.status);
    return res.json();
  }

  switch (section.dataset.page) {
    case "symbol": symbolPage(); break;
    case "movers": moversPage(); break;
    case "cluster": clusterPage(); break;
  }

  function symbolPage() {
    const symbol = section.dataset.symbol;
    const field = (name) => section.querySelectorAll('[data-field="' + name + '"]');
    const set = (name, text) => { for (const el of field(name)) el.textContent = text; };
    let day = section.dataset.day || "";

    function showQuote(q) {
      if (!q || q.symbol !== symbol) return;
      for (const k of ["last", "open", "high", "low", "bid", "ask"]) set(k, dash(q[k]));
      for (const k of ["volume", "bid_size", "ask_size"]) set(k, grouped(q[k]));
      const [text, dir] = change(q.last, q.open);
      for (const el of field("change")) { el.textContent = text; el.classList.remove("up", "down"); if (dir) el.classList.add(dir); }
      for (const el of field("ts")) { el.textContent = feedClock(q.ts); el.setAttribute("datetime", q.ts || ""); }
      set("source", q.source || "");
      const stats = section.querySelector("dl.stats");
      if (stats) stats.dataset.state = q.state || "";
      if (q.day && q.day !== day) {
        // A new trading day: the node starts new bars; so does the chart.
        day = q.day;
        set("day", day);
        loadBars(width);
      }
    }

    // Time and sales: trades only, newest first, at most MAX_TRADES rows.
    const MAX_TRADES = 50;
    const tbody = section.querySelector("#trades tbody");
    function note(counts) {
      const c = (counts || "").split(",");
      if (!c.includes("high_low") && c.includes("volume")) return "volume only";
      if (!counts) return "not counted";
      if (!c.includes("last")) return "not last";
      return "";
    }
    function addTrade(p) {
      const tr = document.createElement("tr");
      const at = cell("td", clock(p.ts));
      at.dataset.ts = p.ts;
      tr.append(at, cell("td", p.price, "num"), cell("td", grouped(p.size), "num"), cell("td", note(p.counts), "note"));
      tbody.prepend(tr);
      while (tbody.rows.length > MAX_TRADES) tbody.deleteRow(-1);
      const empty = section.querySelector("#no-trades");
      if (empty) empty.remove();
    }

    // The chart: candles and volume of the node's bars, grown by prints.
    const LWC = window.LightweightCharts;
    const host = section.querySelector("#candles");
    let width = "1m";
    let bars = []; // {t, o, h, l, c (numbers or null), v (BigInt units), oAt, cAt}
    let chart = null, candles = null, volumes = null;
    let precision = 2;

    function colors() {
      const cs = getComputedStyle(document.body);
      return { text: cs.color, grid: cs.getPropertyValue("--line").trim() || "rgba(128,128,128,.2)",
        up: cs.getPropertyValue("--up").trim() || "#26a69a", down: cs.getPropertyValue("--down").trim() || "#ef5350" };
    }
    function seconds() { return width === "1s" ? 1 : 60; }
    function decimals(s) { const i = s ? s.indexOf(".") : -1; return i < 0 ? 0 : s.length - i - 1; }

    if (LWC && host) {
      const c = colors();
      chart = LWC.createChart(host, {
        autoSize: true,
        // The library's logo needs an inline <style>, which the pages' CSP
        // refuses; the page shows the attribution its licence asks for.
        layout: { background: { type: "solid", color: "transparent" }, textColor: c.text, attributionLogo: false },
        grid: { vertLines: { color: c.grid }, horzLines: { color: c.grid } },
        crosshair: { mode: LWC.CrosshairMode.Normal },
        timeScale: { timeVisible: true, secondsVisible: false, borderColor: c.grid, rightOffset: 2, tickMarkFormatter: (t) => barTime(t, width === "1s") },
        rightPriceScale: { borderColor: c.grid },
        localization: { timeFormatter: (t) => barTime(t, true) + (localTZ() ? "" : "Z") },
      });
      candles = chart.addSeries(LWC.CandlestickSeries, {
        upColor: c.up, downColor: c.down, borderVisible: false, wickUpColor: c.up, wickDownColor: c.down,
      });
      volumes = chart.addSeries(LWC.HistogramSeries, { priceFormat: { type: "volume" }, priceScaleId: "" });
      volumes.priceScale().applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
      candles.priceScale().applyOptions({ scaleMargins: { top: 0.1, bottom: 0.25 } });
      const hint = section.querySelector("#crosshair");
      chart.subscribeCrosshairMove((param) => {
        if (!hint) return;
        const b = param.time !== undefined && bars.find((x) => x.t === param.time);
        hint.textContent = b ? (b.o === null ? "" : "O " + b.os + " H " + b.hs + " L " + b.ls + " C " + b.cs + " ") + "V " + grouped(decimal(b.v, SCALE, 0)) : "";
      });
      const restyle = () => {
        const k = colors();
        chart.applyOptions({ layout: { textColor: k.text }, grid: { vertLines: { color: k.grid }, horzLines: { color: k.grid } } });
        candles.applyOptions({ upColor: k.up, downColor: k.down, wickUpColor: k.up, wickDownColor: k.down });
        chart.applyOptions({ timeScale: { tickMarkFormatter: (t) => barTime(t, width === "1s") } });
        draw();
      };
      matchMedia("(prefers-color-scheme: dark)").addEventListener("change", restyle);
      // The layout's theme and time zone toggles set attributes on <html>.
      new MutationObserver(restyle).observe(document.documentElement, { attributes: true, attributeFilter: ["class", "data-theme", "data-tz"] });
    }

    function fromJSON(b) {
      return { t: b.t, o: b.o === null ? null : +b.o, h: b.h === null ? null : +b.h, l: b.l === null ? null : +b.l,
        c: b.c === null ? null : +b.c, os: b.o, hs: b.h, ls: b.l, cs: b.c, v: units(b.v) || 0n, oAt: 0, cAt: 0 };
    }
    function draw() {
      if (!candles) return;
      const k = colors();
      candles.applyOptions({ priceFormat: { type: "price", precision, minMove: Math.pow(10, -precision) } });
      candles.setData(bars.map((b) => (b.o === null ? { time: b.t } : { time: b.t, open: b.o, high: b.h, low: b.l, close: b.c })));
      volumes.setData(bars.map((b) => ({ time: b.t, value: Number(b.v) / 1e8, color: b.o !== null && b.c < b.o ? k.down + "80" : k.up + "80" })));
      mark();
    }
    // mark says on the section what the chart holds: how many bars, and
    // the newest one's time and volume (tests and tools read it).
    function mark() {
      section.dataset.bars = String(bars.length);
      const b = bars[bars.length - 1];
      section.dataset.lastBar = b ? b.t + " " + decimal(b.v, SCALE, 0) : "";
    }
    function drawLast(b) {
      const k = colors();
      if (b.o === null) candles.update({ time: b.t });
      else candles.update({ time: b.t, open: b.o, high: b.h, low: b.l, close: b.c });
      volumes.update({ time: b.t, value: Number(b.v) / 1e8, color: b.o !== null && b.c < b.o ? k.down + "80" : k.up + "80" });
      mark();
    }
    function setBars(data) {
      bars = (data.bars || []).map(fromJSON);
      for (const b of data.bars || []) precision = Math.max(precision, decimals(b.o), decimals(b.h), decimals(b.l), decimals(b.c));
      if (chart) chart.applyOptions({ timeScale: { secondsVisible: width === "1s" } });
      draw();
      // Candles widen (up to 24 px) so that a short session fills the
      // chart; a long one shows its newest part at the default width.
      if (chart && bars.length) {
        const room = Math.max(host.clientWidth - 80, 100);
        chart.timeScale().applyOptions({ barSpacing: Math.max(6, Math.min(24, room / (bars.length + 3))) });
        chart.timeScale().scrollToRealTime();
      }
    }
    // Bars are fetched again on a width change and after a snapshot (a
    // reset may have skipped prints); prints that arrive meanwhile are
    // counted by the node too, so the answer already has them.
    let loading = 0;
    async function loadBars(w) {
      const mine = ++loading;
      try {
        const data = await getJSON("/api/bars?symbol=" + encodeURIComponent(symbol) + "&width=" + w);
        if (mine === loading) { width = w; setBars(data); }
      } catch (e) { /* keep what is drawn */ }
    }

    // addPrint counts one trade as the node does (stream/bars.go): prices
    // if its conditions let it set high and low, size if volume; in the
    // bar of its own time, so a late report lands where it happened.
    function addPrint(p) {
      const counts = (p.counts || "").split(",");
      const hl = counts.includes("high_low"), vol = counts.includes("volume");
      if (!hl && !vol) return;
      const ms = Date.parse(p.ts);
      const at = Math.floor(ms / 1000);
      const t = at - (((at % seconds()) + seconds()) % seconds());
      let i = bars.length - 1;
      let trimmed = false;
      if (i < 0 || bars[i].t < t) {
        bars.push({ t, o: null, h: null, l: null, c: null, os: null, hs: null, ls: null, cs: null, v: 0n, oAt: 0, cAt: 0 });
        // A page open all day keeps what the node keeps (stream/bars.go),
        // dropping the oldest in steps so that a redraw is rare.
        const keep = width === "1s" ? 600 : 960;
        if (bars.length > keep + 60) {
          bars.splice(0, bars.length - keep);
          trimmed = true;
        }
        i = bars.length - 1;
      } else if (bars[i].t !== t) {
        i = bars.findIndex((b) => b.t >= t);
        if (bars[i].t !== t) bars.splice(i, 0, { t, o: null, h: null, l: null, c: null, os: null, hs: null, ls: null, cs: null, v: 0n, oAt: 0, cAt: 0 });
      }
      const b = bars[i];
      if (vol) b.v += units(p.size) || 0n;
      if (hl) {
        const n = +p.price;
        precision = Math.max(precision, decimals(p.price));
        if (b.o === null) {
          Object.assign(b, { o: n, h: n, l: n, c: n, os: p.price, hs: p.price, ls: p.price, cs: p.price, oAt: ms, cAt: ms });
        } else {
          if (n > b.h) { b.h = n; b.hs = p.price; }
          if (n < b.l) { b.l = n; b.ls = p.price; }
          if (ms < b.oAt) { b.o = n; b.os = p.price; b.oAt = ms; }
          if (ms >= b.cAt) { b.c = n; b.cs = p.price; b.cAt = ms; }
        }
      }
      if (!candles) return;
      if (trimmed || i !== bars.length - 1) draw(); // a late report or a trim: redraw
      else drawLast(b);
    }

    const initial = document.getElementById("bars-data");
    if (initial) {
      try { setBars(JSON.parse(initial.textContent)); } catch (e) { /* an empty chart until the next load */ }
    }
    for (const btn of section.querySelectorAll("button[data-width]")) {
      btn.addEventListener("click", () => {
        for (const b of section.querySelectorAll("button[data-width]")) b.setAttribute("aria-pressed", String(b === btn));
        loadBars(btn.dataset.width);
      });
    }
    document.addEventListener("tape:quote", (e) => {
      const q = e.detail;
      if (!q || q.symbol !== symbol) return;
      showQuote(q);
      if (q.print && (!q.day || q.day === day)) {
        addTrade(q.print);
        addPrint(q.print);
      }
    });
    document.addEventListener("tape:snapshot", (e) => {
      const qs = (e.detail && e.detail.quotes) || [];
      const q = qs.find((x) => x.symbol === symbol);
      if (q) showQuote(q);
      loadBars(width);
      reloadTrades();
    });
    async function reloadTrades() {
      try {
        const data = await getJSON("/api/trades?symbol=" + encodeURIComponent(symbol) + "&limit=" + MAX_TRADES);
        tbody.replaceChildren();
        for (const p of (data.trades || []).slice().reverse()) addTrade(p);
      } catch (e) { /* keep the rows shown */ }
    }
  }

  function fillRows(tbody, rows) {
    tbody.replaceChildren(...rows.map((cells) => {
      const tr = document.createElement("tr");
      tr.append(...cells);
      return tr;
    }));
  }
  function symbolLink(sym) {
    const th = document.createElement("th");
    th.scope = "row";
    const a = document.createElement("a");
    a.href = "/s/" + encodeURIComponent(sym);
    a.textContent = sym;
    th.append(a);
    return th;
  }
  function setNewest(iso) {
    for (const el of section.querySelectorAll('[data-field="newest"]')) {
      el.textContent = feedClock(iso);
      el.setAttribute("datetime", iso || "");
    }
  }

  function moversPage() {
    poll(async () => {
      const [m, cl] = await Promise.all([getJSON("/api/movers?n=10"), getJSON("/api/cluster")]);
      for (const id of ["gainers", "losers", "active"]) {
        const tbody = section.querySelector("#" + id + " tbody");
        fillRows(tbody, (m[id] || []).map((q) => {
          const [text, dir] = change(q.last, q.open);
          return [symbolLink(q.symbol), cell("td", dash(q.last), "num"), cell("td", text, "num " + dir), cell("td", grouped(q.volume), "num")];
        }));
        for (const tr of tbody.rows) tr.dataset.symbol = tr.querySelector("a").textContent;
      }
      setNewest(cl.newest);
      section.dataset.updated = String(Date.now());
    });
  }

  function clusterPage() {
    const ready = (hb) => (hb.ready ? "ready" : hb.status || "not ready");
    const ago = (hb) => ((Date.now() - Date.parse(hb.ts)) / 1000).toFixed(1) + "s ago";
    const num = (v) => (v || 0).toFixed(1);
    poll(async () => {
      const cl = await getJSON("/api/cluster");
      fillRows(section.querySelector("#web tbody"), cl.web.map((hb) => {
        const link = document.createElement("td");
        const a = document.createElement("a");
        a.href = hb.url + "/cluster";
        a.textContent = hb.url;
        link.append(a);
        return [cell("th", hb.id), link, cell("td", ready(hb)), cell("td", String(hb.streams), "num"),
          cell("td", num(hb.events_per_s), "num"), cell("td", String(hb.lag), "num"), cell("td", ago(hb), "num")];
      }));
      fillRows(section.querySelector("#ingest tbody"), cl.ingest.map((hb) => [cell("th", hb.id), cell("td", ready(hb)),
        cell("td", num(hb.raw_per_s), "num"), cell("td", num(hb.quotes_per_s), "num"), cell("td", num(hb.rejects_per_s), "num"),
        cell("td", String(hb.rejected || 0), "num"), cell("td", ago(hb), "num")]));
      for (const [id, list] of [["web", cl.web], ["ingest", cl.ingest]]) {
        for (const [i, tr] of [...section.querySelectorAll("#" + id + " tbody tr")].entries()) {
          tr.dataset.node = list[i].id;
          tr.dataset.ready = String(list[i].ready);
        }
      }
      const replays = section.querySelector("#replays");
      replays.replaceChildren(...cl.replay.map((r) => {
        const p = document.createElement("p");
        p.className = "replay";
        const bar = document.createElement("progress");
        bar.max = 1;
        bar.value = Math.max(r.fraction || 0, 0);
        p.append((r.status === "done" ? "Replayed " : "Replaying ") + (r.file || "") + ": ", bar, " " + (100 * Math.max(r.fraction || 0, 0)).toFixed(1) + "%, recorded " + feedClock(r.recorded));
        return p;
      }));
      const empty = section.querySelector("#no-nodes");
      if (empty && (cl.web.length || cl.ingest.length)) empty.remove();
      setNewest(cl.newest);
      section.dataset.updated = String(Date.now());
    });
  }
})();
