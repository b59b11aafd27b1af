"""The HTML, CSS and JavaScript of report.html (filled in by :mod:`ganforge.train.report`).

One self-contained page: no network at all (system fonts, images as data URIs, the run's
numbers as embedded JSON, charts drawn here as SVG). ``__TITLE__`` and ``__DATA__`` are
replaced; the data is JSON with every ``<`` escaped, so it cannot close the script element.
The page marks ``<body data-rendered="ok">`` when it has drawn everything, and a script error
both shows a banner and lands in ``data-errors`` (the browser test reads them).
"""

PAGE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>__TITLE__</title>
<style>
:root{--bg:#f4f5f7;--card:#fff;--ink:#1f2430;--mute:#6b7280;--line:#e3e6eb;--accent:#2563eb}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,
"Helvetica Neue",Arial,sans-serif}
header{background:#1f2430;color:#fff;padding:16px 28px}
header h1{margin:0;font-size:20px;font-weight:600;letter-spacing:.2px}
header .sub{color:#b8bfcc;font-size:13px;margin-top:2px}
.badge{display:inline-block;padding:1px 9px;border-radius:10px;font-size:12px;font-weight:600;margin-left:10px;
vertical-align:3px}
.running{background:#dbeafe;color:#1e40af}.finished{background:#dcfce7;color:#166534}
.interrupted{background:#fef3c7;color:#92400e}
main{max-width:1240px;margin:0 auto;padding:18px 22px 40px}
.stats{display:flex;flex-wrap:wrap;gap:10px;margin-bottom:16px}
.stat{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:8px 14px;min-width:110px}
.stat b{display:block;font-size:18px;font-weight:600}.stat span{color:var(--mute);font-size:12px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:16px;margin-bottom:16px}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:14px 16px;min-width:0}
.card h2{font-size:15px;margin:0 0 8px;font-weight:600}
.card .note{color:var(--mute);font-size:12px;margin:4px 0 0}
img.pix{image-rendering:pixelated;display:block;max-width:100%;height:auto;border-radius:4px}
.player{display:flex;align-items:center;gap:10px;margin-top:8px}
.player input{flex:1}
button{font:inherit;border:1px solid var(--line);background:#fff;border-radius:6px;padding:3px 12px;cursor:pointer}
.legend{display:flex;gap:14px;flex-wrap:wrap;font-size:12px;color:var(--mute);margin-bottom:2px}
.legend i{display:inline-block;width:14px;height:3px;vertical-align:middle;margin-right:5px}
svg.chart{display:block;width:100%;overflow:visible}
svg.chart text{font-size:11px;fill:var(--mute)}
svg.chart .axis{stroke:#c9ced6;stroke-width:1}
svg.chart .gridline{stroke:#eef0f3;stroke-width:1}
.tip{position:absolute;pointer-events:none;background:rgba(31,36,48,.92);color:#fff;font-size:12px;
padding:5px 8px;border-radius:5px;white-space:nowrap;display:none;z-index:5}
.chartbox{position:relative}
table{border-collapse:collapse;width:100%;font-size:13px}
td,th{text-align:left;padding:3px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{color:var(--mute);font-weight:500;width:36%}
.find{border-left:3px solid #dc2626;padding:4px 10px;margin:8px 0;background:#fef2f2;border-radius:0 6px 6px 0}
.find .k{font-weight:600}.find .try{color:#374151}
.empty{color:var(--mute);font-style:italic}
#errors{display:none;background:#b91c1c;color:#fff;padding:8px 28px;font-weight:600}
details summary{cursor:pointer;color:var(--accent);margin-top:6px}
.wide{margin-bottom:16px}
.mgrid{display:grid;grid-template-columns:repeat(auto-fit,minmax(340px,1fr));gap:6px 22px}
.cfg{display:grid;grid-template-columns:repeat(auto-fit,minmax(280px,1fr));gap:12px}
.cfg h3{font-size:13px;margin:6px 0 4px}
footer{color:var(--mute);font-size:12px;text-align:center;margin-top:24px}
</style></head>
<body>
<div id="errors"></div>
<header><h1 id="title"></h1><div class="sub" id="subtitle"></div></header>
<main>
<div class="stats" id="stats"></div>
<div class="grid">
 <div class="card"><h2>Latest samples <span class="note" id="latest-step"></span></h2><div id="latest"></div>
  <p class="note">The fixed noise batch chosen at the start, drawn by G (G_ema where the run keeps one).</p></div>
 <div class="card"><h2>Over training</h2><div id="frames"></div></div>
</div>
<div class="grid">
 <div class="card"><h2>Losses</h2><div id="loss-chart"></div></div>
 <div class="card"><h2>Discriminator outputs</h2><div id="d-chart"></div></div>
</div>
<div class="card wide"><h2>Metrics</h2><div class="mgrid" id="metric-charts"></div><div id="metrics"></div></div>
<div class="grid">
 <div class="card"><h2>Diagnostics</h2><div id="findings"></div></div>
 <div class="card"><h2>Throughput</h2><div id="speed-chart"></div></div>
</div>
<div class="card"><h2>Configuration</h2><div id="config"></div></div>
<footer id="footer"></footer>
</main>
<script type="application/json" id="run-data">__DATA__</script>
<script>
"use strict";
(function () {
  const errors = [];
  function fail(msg) {
    errors.push(String(msg));
    document.body.dataset.errors = errors.join("\n");
    const box = document.getElementById("errors");
    box.style.display = "block";
    box.textContent = "This page hit a script error: " + errors.join("; ");
  }
  window.addEventListener("error", e => fail(e.message || e));
  window.addEventListener("unhandledrejection", e => fail(e.reason));

  const D = JSON.parse(document.getElementById("run-data").textContent);
  const $ = id => document.getElementById(id);
  const SVGNS = "http://www.w3.org/2000/svg";
  const SVG_TAGS = new Set(["svg", "path", "line", "text", "g", "rect", "circle", "title"]);
  function el(tag, attrs, text) {
    const n = SVG_TAGS.has(tag) ? document.createElementNS(SVGNS, tag) : document.createElement(tag);
    for (const k in attrs || {}) n.setAttribute(k, attrs[k]);
    if (text !== undefined) n.textContent = text;
    return n;
  }
  const fin = v => typeof v === "number" && isFinite(v);
  function fmt(v) {
    if (!fin(v)) return "-";
    const a = Math.abs(v);
    if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(2);
    return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : v.toFixed(3);
  }
  function duration(s) {
    if (!fin(s)) return "-";
    s = Math.round(s);
    if (s < 60) return s + "s";
    if (s < 3600) return Math.floor(s / 60) + "m" + String(s % 60).padStart(2, "0") + "s";
    return Math.floor(s / 3600) + "h" + String(Math.floor(s % 3600 / 60)).padStart(2, "0") + "m";
  }
  function ticks(lo, hi, n) {
    const span = hi - lo || 1, raw = span / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map(m => m * mag).find(s => span / s <= n) || 10 * mag;
    const out = [], digits = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
    for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step)
      out.push({v: +t.toPrecision(12), s: Math.abs(t) >= 1e5 || (t !== 0 && digits > 4) ? t.toExponential(1) : t.toFixed(digits)});
    return out;
  }

  // A line chart: series [{label, color, xs, ys, dash}], markers [{x, color, label}], hline (a y value).
  function chart(box, o) {
    const legend = el("div", {class: "legend"});
    for (const s of o.series) {
      const item = el("span");
      item.append(el("i", {style: "background:" + s.color}), s.label);
      legend.append(item);
    }
    const holder = el("div", {class: "chartbox"}), tip = el("div", {class: "tip"});
    box.append(legend, holder);
    function draw() {
      holder.textContent = "";
      const W = Math.max(holder.clientWidth || box.clientWidth || 400, 200), H = o.height || 220;
      const m = {l: 52, r: 12, t: 8, b: 26};
      const xs = [], ys = [];
      for (const s of o.series) s.xs.forEach((x, i) => { if (fin(s.ys[i])) { xs.push(x); ys.push(s.ys[i]); } });
      if (o.hline !== undefined) ys.push(o.hline);
      if (!xs.length) { holder.append(el("p", {class: "empty"}, "nothing logged yet")); return; }
      let x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
      if (x1 === x0) { x0 -= 1; x1 += 1; }
      const pad = (y1 - y0) * 0.06 || Math.abs(y0) * 0.1 || 1;
      y0 -= pad; y1 += pad;
      const X = x => m.l + (x - x0) / (x1 - x0) * (W - m.l - m.r), Y = y => H - m.b - (y - y0) / (y1 - y0) * (H - m.t - m.b);
      const svg = el("svg", {class: "chart", viewBox: `0 0 ${W} ${H}`, width: W, height: H});
      for (const t of ticks(y0, y1, 5)) {
        svg.append(el("line", {class: "gridline", x1: m.l, x2: W - m.r, y1: Y(t.v), y2: Y(t.v)}));
        svg.append(el("text", {x: m.l - 6, y: Y(t.v) + 4, "text-anchor": "end"}, t.s));
      }
      for (const t of ticks(x0, x1, Math.max(2, Math.floor(W / 90))))
        svg.append(el("text", {x: X(t.v), y: H - 8, "text-anchor": "middle"}, t.s));
      svg.append(el("line", {class: "axis", x1: m.l, x2: W - m.r, y1: H - m.b, y2: H - m.b}));
      if (o.hline !== undefined)
        svg.append(el("line", {x1: m.l, x2: W - m.r, y1: Y(o.hline), y2: Y(o.hline), stroke: "#9ca3af", "stroke-dasharray": "4 3"}));
      for (const mk of o.markers || []) {
        const g = el("g");
        g.append(el("line", {x1: X(mk.x), x2: X(mk.x), y1: m.t, y2: H - m.b, stroke: mk.color, "stroke-width": 1.5, "stroke-dasharray": "3 2"}));
        g.append(el("circle", {cx: X(mk.x), cy: m.t + 4, r: 4, fill: mk.color}));
        g.append(el("title", {}, mk.label));
        svg.append(g);
      }
      for (const s of o.series) {
        let d = "", pen = false;
        s.xs.forEach((x, i) => {
          const y = s.ys[i];
          if (!fin(y)) { pen = false; return; }
          d += (pen ? "L" : "M") + X(x).toFixed(1) + " " + Y(y).toFixed(1);
          pen = true;
        });
        svg.append(el("path", {d, fill: "none", stroke: s.color, "stroke-width": 1.6, "stroke-dasharray": s.dash || "none"}));
        if (s.dots) s.xs.forEach((x, i) => fin(s.ys[i]) && svg.append(el("circle", {cx: X(x), cy: Y(s.ys[i]), r: 3, fill: s.color})));
      }
      const guide = el("line", {x1: 0, x2: 0, y1: m.t, y2: H - m.b, stroke: "#9ca3af", visibility: "hidden"});
      svg.append(guide);
      svg.addEventListener("mousemove", ev => {
        const r = svg.getBoundingClientRect(), px = (ev.clientX - r.left) * W / r.width;
        const x = x0 + (px - m.l) / (W - m.l - m.r) * (x1 - x0);
        const s0 = o.series[0];
        let best = 0;
        s0.xs.forEach((v, i) => { if (Math.abs(v - x) < Math.abs(s0.xs[best] - x)) best = i; });
        const at = s0.xs[best];
        guide.setAttribute("x1", X(at)); guide.setAttribute("x2", X(at)); guide.setAttribute("visibility", "visible");
        const lines = [(o.xlabel || "step") + " " + at].concat(o.series.map(s => s.label + ": " + fmt(s.ys[s.xs.indexOf(at)])));
        for (const mk of o.markers || []) if (mk.x === at) lines.push(mk.label);
        tip.textContent = "";
        lines.forEach((t, i) => { if (i) tip.append(el("br")); tip.append(t); });
        tip.style.display = "block";
        tip.style.left = Math.min(X(at) * r.width / W + 12, r.width - 160) + "px";
        tip.style.top = "10px";
      });
      svg.addEventListener("mouseleave", () => { tip.style.display = "none"; guide.setAttribute("visibility", "hidden"); });
      holder.append(svg, tip);
    }
    draw();
    charts.push(draw);
  }
  const charts = [];
  let resizeTimer = 0;
  window.addEventListener("resize", () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(() => charts.forEach(f => f()), 150); });

  // ---------------------------------------------------------------- the page
  const cfg = D.config || {}, T = D.train, col = k => { const i = T.cols.indexOf(k); return T.rows.map(r => i < 0 ? null : r[i]); };
  const steps = col("step");
  document.title = D.name + " - ganforge";
  $("title").append(D.name, el("span", {class: "badge " + D.status}, D.status));
  $("subtitle").textContent = [cfg.preset && "preset " + cfg.preset, D.data && "data " + D.data,
    cfg.model && cfg.model.arch && "arch " + cfg.model.arch, cfg.loss && cfg.loss.loss && "loss " + cfg.loss.loss]
    .filter(Boolean).join("  \u00b7  ");
  const last = T.rows.length ? T.rows[T.rows.length - 1] : null, lastOf = k => last ? last[T.cols.indexOf(k)] : null;
  const speeds = col("img_per_s").filter(fin).slice(-20).sort((a, b) => a - b);
  const stats = [["step", D.step], ["epoch", fmt(lastOf("epoch"))], ["time trained", duration(lastOf("time_s"))],
    ["img/s (recent median)", speeds.length ? fmt(speeds[Math.floor(speeds.length / 2)]) : "-"],
    ["best FD", fin(D.best_fd) ? fmt(D.best_fd) : "-"], ["findings", D.findings.length]];
  for (const [k, v] of stats) { const s = el("div", {class: "stat"}); s.append(el("b", {}, String(v)), el("span", {}, k)); $("stats").append(s); }

  // samples: the latest grid, and every kept grid behind a slider
  const F = D.frames;
  if (F.length) {
    const latest = F[F.length - 1];
    $("latest").append(el("img", {class: "pix", id: "latest-img", src: latest.src, width: latest.w, height: latest.h, alt: "samples at step " + latest.step}));
    $("latest-step").textContent = "step " + latest.step;
    const img = el("img", {class: "pix", id: "frame-img", src: F[0].src, width: F[0].w, height: F[0].h, alt: "samples over training"});
    const slider = el("input", {type: "range", min: 0, max: F.length - 1, value: F.length - 1, "aria-label": "training step"});
    const label = el("span", {class: "note"}), play = el("button", {type: "button"}, "\u25b6 play");
    const show = i => { img.src = F[i].src; label.textContent = "step " + F[i].step + " (" + (i + 1) + "/" + F.length + ")"; };
    slider.addEventListener("input", () => show(+slider.value));
    let timer = 0;
    play.addEventListener("click", () => {
      if (timer) { clearInterval(timer); timer = 0; play.textContent = "\u25b6 play"; return; }
      if (+slider.value === F.length - 1) slider.value = 0;
      play.textContent = "\u275a\u275a pause";
      timer = setInterval(() => {
        if (+slider.value >= F.length - 1) { clearInterval(timer); timer = 0; play.textContent = "\u25b6 play"; return; }
        slider.value = +slider.value + 1; show(+slider.value);
      }, 180);
    });
    const bar = el("div", {class: "player"});
    bar.append(play, slider, label);
    $("frames").append(img, bar);
    if (D.frames_total > F.length) $("frames").append(el("p", {class: "note"}, F.length + " of the " + D.frames_total + " grids in samples/, spread over the run"));
    show(F.length - 1);
  } else {
    $("latest").append(el("p", {class: "empty"}, "no sample grids yet"));
    $("frames").append(el("p", {class: "empty"}, "no sample grids yet"));
  }

  // findings on the timeline
  const KIND = {nan: "#dc2626", mode_collapse: "#d97706", d_too_strong: "#db2777", d_too_weak: "#7c3aed"};
  const markers = D.findings.map(f => ({x: f.step, color: KIND[f.kind] || "#dc2626", label: "step " + f.step + ": " + f.kind}));
  chart($("loss-chart"), {series: [{label: "D loss", color: "#2563eb", xs: steps, ys: col("d_loss")},
    {label: "G loss", color: "#ea580c", xs: steps, ys: col("g_loss")}], markers});
  const dSeries = [{label: "mean D(x)", color: "#16a34a", xs: steps, ys: col("d_real")},
    {label: "mean D(G(z))", color: "#9333ea", xs: steps, ys: col("d_fake")}];
  const dv = dSeries.flatMap(s => s.ys).filter(fin);
  chart($("d-chart"), {series: dSeries, markers, hline: dv.length && Math.min(...dv) >= 0 && Math.max(...dv) <= 1 ? 0.5 : undefined});
  chart($("speed-chart"), {series: [{label: "images per second", color: "#0891b2", xs: steps, ys: col("img_per_s")}], height: 160});

  if (D.findings.length) {
    for (const f of D.findings) {
      const box = el("div", {class: "find"});
      box.style.borderLeftColor = KIND[f.kind] || "#dc2626";
      box.append(el("span", {class: "k"}, "step " + f.step + " \u00b7 " + f.kind + ": "), f.message || "");
      if (f.suggestion) { box.append(el("br")); box.append(el("span", {class: "try"}, "Try: " + f.suggestion)); }
      if (f.applied && f.applied.length) { box.append(el("br")); box.append(el("span", {class: "try"}, "Applied: " + f.applied.join(", "))); }
      $("findings").append(box);
    }
  } else {
    $("findings").append(el("p", {class: "empty"}, cfg.train && cfg.train.diagnose === false ?
      "Diagnostics were off for this run (--no-diagnose)." : "No findings: the diagnostics saw nothing going wrong."));
  }

  // metrics over steps, with their protocol
  const E = D.evals;
  if (E.rows.length) {
    const es = E.rows.map(r => r.step), PAL = ["#2563eb", "#ea580c", "#16a34a", "#9333ea", "#0891b2", "#ca8a04", "#db2777"];
    const boxes = E.keys.map(() => el("div"));  // laid out first: each chart takes its box's width
    $("metric-charts").append(...boxes);
    E.keys.forEach((k, i) => {
      chart(boxes[i], {series: [{label: k, color: PAL[i % PAL.length], xs: es, ys: E.rows.map(r => r[k]), dots: true}], height: 150});
    });
    const det = el("details"), tbl = el("table");
    det.append(el("summary", {}, "protocol (what the numbers mean)"));
    for (const [k, v] of Object.entries(E.protocol || {})) {
      const tr = el("tr"); tr.append(el("th", {}, k), el("td", {}, typeof v === "object" ? JSON.stringify(v) : String(v))); tbl.append(tr);
    }
    det.append(tbl);
    $("metrics").append(det);
  } else {
    $("metrics").append(el("p", {class: "empty"}, "No metrics were computed during training (turn them on with " +
      "--eval-every N; or measure afterwards: ganforge evaluate RUN)."));
  }

  // the resolved configuration, one table per section
  const wrap = el("div", {class: "cfg"});
  for (const [section, v] of Object.entries(cfg)) {
    const box = el("div"), tbl = el("table");
    box.append(el("h3", {}, section));
    const entries = v && typeof v === "object" && !Array.isArray(v) ? Object.entries(v) : [["value", v]];
    for (const [k, x] of entries) {
      const tr = el("tr"); tr.append(el("th", {}, k), el("td", {}, x === null ? "none" : typeof x === "object" ? JSON.stringify(x) : String(x))); tbl.append(tr);
    }
    box.append(tbl); wrap.append(box);
  }
  $("config").append(Object.keys(cfg).length ? wrap : el("p", {class: "empty"}, "no config.json"));
  $("footer").textContent = "report.html written " + D.written + " by ganforge from " + D.path + "; rewritten as the run trains.";

  const r = document.getElementById("latest-img");
  if (r) {
    const b = r.getBoundingClientRect();
    document.body.dataset.samplesRect = [b.left, b.top + window.scrollY, b.width, b.height].map(Math.round).join(",");
  }
  if (!errors.length) document.body.dataset.rendered = "ok";
})();
</script>
</body></html>
"""
