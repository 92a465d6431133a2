// Small SVG charts for the Pointsman dashboard: line charts with axes, units and legends,
// a compliance gauge, and horizontal bars. No dependencies; everything is drawn from data.
"use strict";

(function () {
  const NS = "http://www.w3.org/2000/svg";

  function el(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    if (parent) parent.appendChild(node);
    return node;
  }

  function text(parent, x, y, content, attrs) {
    const node = el("text", Object.assign({ x, y, "font-size": 11, fill: "#5d6b7d" }, attrs || {}), parent);
    node.textContent = content;
    return node;
  }

  // A "nice" upper bound and step for an axis from 0 to max.
  function niceScale(max, ticks) {
    if (!(max > 0)) return { top: 1, step: 0.25 };
    const raw = max / ticks;
    const power = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw);
    return { top: Math.ceil(max / step) * step, step };
  }

  function fmtNumber(value, digits) {
    if (value === null || value === undefined || Number.isNaN(value)) return "–";
    const abs = Math.abs(value);
    if (abs >= 1e6) return (value / 1e6).toFixed(1) + "M";
    if (abs >= 1e4) return (value / 1e3).toFixed(1) + "k";
    if (abs >= 100) return value.toFixed(0);
    if (abs >= 10) return value.toFixed(digits === undefined ? 1 : Math.min(digits, 1));
    return value.toFixed(digits === undefined ? 2 : digits);
  }

  // lineChart(container, {t: [...epoch s], series: [{name, color, values, dash, width}],
  //   unit: "ms", targets: [{value, label, color}]})
  function lineChart(container, spec) {
    const width = container.clientWidth || 400;
    const height = container.clientHeight || 220;
    const pad = { left: 46, right: 10, top: 26, bottom: 22 };
    const plotW = width - pad.left - pad.right;
    const plotH = height - pad.top - pad.bottom;
    const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, role: "img" });
    const t = spec.t;
    let max = 0;
    for (const s of spec.series) for (const v of s.values) if (v !== null && v > max) max = v;
    for (const target of spec.targets || []) max = Math.max(max, target.value * 1.15);
    const scale = niceScale(max * 1.05, 4);
    const x0 = t[0], x1 = t[t.length - 1];
    const xAt = (x) => pad.left + (x1 === x0 ? 0 : ((x - x0) / (x1 - x0)) * plotW);
    const yAt = (y) => pad.top + plotH - (y / scale.top) * plotH;
    // grid and y labels
    for (let y = 0; y <= scale.top + 1e-9; y += scale.step) {
      el("line", { x1: pad.left, x2: pad.left + plotW, y1: yAt(y), y2: yAt(y), stroke: "#e3e8ef" }, svg);
      text(svg, pad.left - 6, yAt(y) + 4, fmtNumber(y, scale.step < 1 ? 2 : 0), { "text-anchor": "end" });
    }
    text(svg, 4, 12, spec.unit || "", { "font-size": 11, "font-weight": 600 });
    // x labels: time before now, every 15 s, 30 s or minute depending on the span
    const span = x1 - x0;
    const every = span <= 90 ? 15 : span <= 180 ? 30 : 60;
    for (let ago = Math.floor(span / every) * every; ago >= 0; ago -= every) {
      const x = xAt(x1 - ago);
      el("line", { x1: x, x2: x, y1: pad.top, y2: pad.top + plotH, stroke: "#f0f3f7" }, svg);
      const label = ago === 0 ? "now" : every < 60 ? `−${ago} s` : `−${ago / 60} min`;
      text(svg, x, height - 6, label, { "text-anchor": ago === 0 ? "end" : "middle" });
    }
    // targets (dashed)
    for (const target of spec.targets || []) {
      const y = yAt(target.value);
      el("line", { x1: pad.left, x2: pad.left + plotW, y1: y, y2: y, stroke: target.color || "#111827", "stroke-dasharray": "6 4", "stroke-width": 1.2 }, svg);
      text(svg, pad.left + plotW - 4, y - 4, target.label, { "text-anchor": "end", fill: target.color || "#111827", "font-weight": 600 });
    }
    // series: gaps where values are null
    for (const s of spec.series) {
      let d = "";
      let pen = false;
      s.values.forEach((v, i) => {
        if (v === null || v === undefined) { pen = false; return; }
        d += `${pen ? "L" : "M"}${xAt(t[i]).toFixed(1)},${yAt(v).toFixed(1)}`;
        pen = true;
      });
      if (d) el("path", { d, fill: "none", stroke: s.color, "stroke-width": s.width || 1.8, "stroke-dasharray": s.dash || "", "stroke-linejoin": "round" }, svg);
    }
    // legend (top right)
    let lx = width - pad.right;
    for (const s of spec.series.slice().reverse()) {
      const w = s.name.length * 6.2;
      text(svg, lx, 14, s.name, { "text-anchor": "end", fill: "#17202c" });
      el("rect", { x: lx - w - 14, y: 5, width: 10, height: 10, rx: 2, fill: s.color }, svg);
      lx -= w + 26;
    }
    container.replaceChildren(svg);
  }

  const COLOURS = { green: "#16a34a", yellow: "#d97706", red: "#dc2626", grey: "#9ca3af" };

  // A half-circle gauge of a ratio (0..1) with thresholds at 90 % and 95 %.
  function gauge(container, ratio, colour) {
    const svg = el("svg", { viewBox: "0 0 200 112", role: "img" });
    const cx = 100, cy = 100, r = 80;
    const arc = (from, to, stroke, w) => {
      const a0 = Math.PI * (1 - from), a1 = Math.PI * (1 - to);
      const p0 = [cx + r * Math.cos(a0), cy - r * Math.sin(a0)];
      const p1 = [cx + r * Math.cos(a1), cy - r * Math.sin(a1)];
      el("path", { d: `M${p0[0]},${p0[1]} A${r},${r} 0 0 1 ${p1[0]},${p1[1]}`, fill: "none", stroke, "stroke-width": w }, svg);
    };
    // the scale shows 80 %..100 %, where the decisions are
    const pos = (v) => Math.max(0, Math.min(1, (v - 0.8) / 0.2));
    arc(0, pos(0.9), "#fecaca", 14);
    arc(pos(0.9), pos(0.95), "#fde68a", 14);
    arc(pos(0.95), 1, "#bbf7d0", 14);
    if (ratio !== null && ratio !== undefined) arc(0, Math.max(pos(ratio), 0.005), COLOURS[colour] || "#9ca3af", 8);
    text(svg, cx, cy - 18, ratio === null || ratio === undefined ? "no data" : (ratio * 100).toFixed(1) + " %",
      { "text-anchor": "middle", "font-size": 24, "font-weight": 700, fill: COLOURS[colour] || "#5d6b7d" });
    text(svg, 18, cy + 10, "80 %", { "font-size": 10 });
    text(svg, 182, cy + 10, "100 %", { "font-size": 10, "text-anchor": "end" });
    container.replaceChildren(svg);
  }

  // bars(container, [{label, value, max, text, colour}]): horizontal bars, one per row.
  function bars(container, rows, empty) {
    container.replaceChildren();
    if (!rows.length) {
      const note = document.createElement("div");
      note.className = "empty";
      note.textContent = empty || "no data yet";
      container.appendChild(note);
      return;
    }
    for (const row of rows) {
      const item = document.createElement("div");
      item.className = "bar-row";
      const head = document.createElement("div");
      head.className = "bar-head";
      const name = document.createElement("span");
      name.textContent = row.label;
      name.title = row.label;
      const value = document.createElement("span");
      value.textContent = row.text;
      head.append(name, value);
      const track = document.createElement("div");
      track.className = "bar-track";
      const fill = document.createElement("div");
      fill.className = "bar-fill";
      fill.style.width = Math.max(1, Math.min(100, (row.value / (row.max || 1)) * 100)) + "%";
      fill.style.background = row.colour || "#2563eb";
      track.appendChild(fill);
      item.append(head, track);
      container.appendChild(item);
    }
  }

  window.PointsmanCharts = { lineChart, gauge, bars, fmtNumber, COLOURS };
})();
