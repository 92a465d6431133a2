// The Pointsman dashboard: signs in with an admin key, polls /ui/api/summary once a second,
// and draws what the gateway aggregated. Read-only: it never sends anything but GETs.
"use strict";

(function () {
  const C = window.PointsmanCharts;
  const KEY = "pointsman.adminKey";
  const $ = (id) => document.getElementById(id);
  let timer = null;
  let last = null;

  const pct = (v, digits) => (v === null || v === undefined ? "–" : (v * 100).toFixed(digits === undefined ? 1 : digits) + " %");
  const ms = (v) => (v === null || v === undefined ? "–" : C.fmtNumber(v * 1000, 1) + " ms");
  const usd = (v) => {
    if (v === null || v === undefined) return "–";
    if (v === 0) return "$0";
    if (Math.abs(v) < 0.01) return "$" + v.toPrecision(2);
    return "$" + v.toFixed(2);
  };
  const pill = (colour, label) => `<span class="pill ${colour}">${label}</span>`;
  const esc = (s) => String(s === null || s === undefined ? "" : s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));

  function showLogin(message) {
    if (timer) clearInterval(timer);
    timer = null;
    $("board").hidden = true;
    $("logout").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = message || "";
    $("conn").className = "pill grey";
    $("conn").textContent = "not connected";
  }

  async function poll() {
    const key = sessionStorage.getItem(KEY) || "";
    const headers = key ? { Authorization: "Bearer " + key } : {};
    let response;
    try {
      response = await fetch("/ui/api/summary", { headers, cache: "no-store" });
    } catch (error) {
      $("conn").className = "pill red";
      $("conn").textContent = "gateway unreachable";
      return;
    }
    if (response.status === 401 || response.status === 403) {
      sessionStorage.removeItem(KEY);
      const body = await response.json().catch(() => ({}));
      showLogin((body.error && body.error.message) || "This key may not open the dashboard.");
      return;
    }
    if (!response.ok) {
      $("conn").className = "pill red";
      $("conn").textContent = "HTTP " + response.status;
      return;
    }
    last = await response.json();
    $("conn").className = "pill green";
    $("conn").textContent = "live";
    $("clock").textContent = "updated " + new Date(last.now * 1000).toLocaleTimeString();
    render(last);
  }

  function start() {
    $("login").hidden = true;
    $("board").hidden = false;
    $("logout").hidden = false;
    poll();
    timer = setInterval(poll, 1000);
  }

  function column(data, name) {
    const i = data.timeline.columns.indexOf(name);
    return data.timeline.rows.map((row) => row[i]);
  }

  function render(d) {
    const o = d.overall;
    const classes = d.slo.classes;
    const target = classes[d.slo.default_class] || { ttft_ms: 500, tpot_ms: 50 };
    $("t-rps").textContent = C.fmtNumber(o.rps, 1);
    $("t-rps-sub").textContent = `${d.inflight} in flight · ${C.fmtNumber(o.requests, 0)} in 5 min`;
    $("t-success").textContent = pct(o.success_rate);
    $("t-success-sub").textContent = `${o.errors} failed · ${o.refusals} refused`;
    $("t-goodput").textContent = C.fmtNumber(o.goodput, 1);
    C.gauge($("gauge"), o.compliance, o.colour);
    $("t-slo-sub").textContent = `TTFT < ${target.ttft_ms} ms, TPOT < ${target.tpot_ms} ms (${d.slo.default_class})`;
    $("t-cost").textContent = usd(o.cost_usd_per_hour) + "/h";
    $("t-cost-sub").textContent = `${usd(o.cost_per_success_usd)} per success`;
    $("t-fallback").textContent = pct(o.fallback_rate);
    $("t-fallback-sub").textContent = "served elsewhere than first choice";
    $("t-cache").textContent = pct(o.cache_hit_rate);
    $("t-cache-sub").textContent = `${usd(o.cache_saved_usd)} saved in 5 min`;
    $("t-tier").textContent = pct(o.top_tier_share);
    const top = (d.tiers.find((t) => t.top) || {}).tier || "premium";
    $("t-tier-sub").textContent = `of answers on the ${top} tier`;
    $("window-note").textContent = `last ${Math.round(d.window_s / 60)} min`;

    const t = column(d, "t");
    const requests = column(d, "requests");
    C.lineChart($("c-traffic"), {
      t, unit: "req/s",
      series: [
        { name: "total", color: "#2563eb", values: requests },
        { name: "goodput", color: "#7c3aed", values: column(d, "met"), dash: "4 2" },
        { name: "failed", color: "#dc2626", values: column(d, "errors") },
        { name: "refused", color: "#d97706", values: column(d, "refusals") },
      ],
    });
    const latencySeries = (prefix) => [
      { name: "p50", color: "#2563eb", values: column(d, prefix + "_p50_ms") },
      { name: "p95", color: "#f59e0b", values: column(d, prefix + "_p95_ms") },
      { name: "p99", color: "#dc2626", values: column(d, prefix + "_p99_ms") },
    ];
    C.lineChart($("c-ttft"), { t, unit: "ms", series: latencySeries("ttft"), targets: [{ value: target.ttft_ms, label: `SLO ${target.ttft_ms} ms`, color: "#111827" }] });
    C.lineChart($("c-tpot"), { t, unit: "ms/token", series: latencySeries("tpot"), targets: [{ value: target.tpot_ms, label: `SLO ${target.tpot_ms} ms`, color: "#111827" }] });

    $("aliases").innerHTML =
      `<tr><th>alias</th><th>SLO class</th><th class="num">req/s</th><th class="num">success</th><th class="num">SLO met</th>` +
      `<th class="num">p50</th><th class="num">p95</th><th class="num">p99</th><th class="num">TTFT p95</th><th class="num">TPOT p95</th><th class="num">$/h</th></tr>` +
      (d.aliases.length ? d.aliases.map((a) =>
        `<tr><td><b>${esc(a.alias)}</b></td><td>${esc(a.slo_class)} <span class="muted">(${a.ttft_target_ms}/${a.tpot_target_ms} ms)</span></td>` +
        `<td class="num">${C.fmtNumber(a.rps, 1)}</td><td class="num">${pct(a.success_rate)}</td>` +
        `<td class="num">${pill(a.colour, pct(a.compliance))}</td>` +
        `<td class="num">${ms(a.latency.p50)}</td><td class="num">${ms(a.latency.p95)}</td><td class="num">${ms(a.latency.p99)}</td>` +
        `<td class="num">${ms(a.ttft.p95)}</td><td class="num">${ms(a.tpot.p95)}</td><td class="num">${usd(a.cost_usd_per_hour)}</td></tr>`).join("")
        : `<tr><td colspan="11" class="empty">no requests yet</td></tr>`);

    const stateColour = { closed: "green", half_open: "yellow", rate_limited: "yellow", open: "red" };
    $("deployments").innerHTML =
      `<tr><th>deployment</th><th>tier</th><th>breaker</th><th class="num">errors</th><th class="num">latency</th><th class="num">requests</th><th class="num">$/h</th></tr>` +
      (d.deployments.length ? d.deployments.map((x) =>
        `<tr title="${esc(x.last_error || "")}"><td><b>${esc(x.name)}</b></td><td>${esc(x.tier || "–")}</td>` +
        `<td>${pill(stateColour[x.state] || "grey", esc(x.state.replace("_", " ")))}</td>` +
        `<td class="num">${pct(x.error_rate)}</td><td class="num">${x.latency_ms === null ? "–" : C.fmtNumber(x.latency_ms, 1) + " ms"}</td>` +
        `<td class="num">${C.fmtNumber(x.requests, 0)}</td><td class="num">${usd(x.usd_per_hour)}</td></tr>`).join("")
        : `<tr><td colspan="7" class="empty">no deployments</td></tr>`);

    const costBars = (rows) => {
      const max = Math.max(...rows.map((r) => r.usd_per_hour), 0);
      return rows.map((r) => ({ label: r.label || r.name, value: r.usd_per_hour, max, text: `${usd(r.usd_per_hour)}/h · ${C.fmtNumber(r.requests, 0)} req`, colour: "#2563eb" }));
    };
    C.bars($("cost-team"), costBars(d.teams), "no spend yet");
    C.bars($("cost-model"), costBars(d.models), "no spend yet");

    if (d.budgets === null) {
      C.bars($("budgets"), [], "governance is off");
    } else {
      C.bars($("budgets"), d.budgets.slice(0, 8).map((b) => ({
        label: `${b.scope} ${b.label || b.subject} · ${b.period}${b.mode === "soft" ? " (soft)" : ""}`,
        value: b.share, max: 1,
        text: `${usd(b.spent_usd)} of ${usd(b.limit_usd)} · ${pct(b.share, 0)}`,
        colour: b.share >= 1 ? "#dc2626" : b.share >= 0.7 ? "#d97706" : "#16a34a",
      })), "no budget applies to recent callers");
    }

    const palette = { premium: "#7c3aed", standard: "#2563eb", economy: "#16a34a", cache: "#0891b2", unpriced: "#9ca3af", other: "#9ca3af" };
    // built with the DOM: the page's Content-Security-Policy forbids inline style attributes
    const tiers = $("tiers");
    tiers.replaceChildren();
    if (!d.tiers.length) {
      tiers.innerHTML = `<div class="empty">no answers yet</div>`;
    } else {
      const split = document.createElement("div");
      split.className = "split";
      const legend = document.createElement("div");
      legend.className = "legend";
      for (const x of d.tiers) {
        const colour = palette[x.tier] || "#64748b";
        const part = document.createElement("div");
        part.title = x.tier;
        part.style.width = (x.share * 100).toFixed(2) + "%";
        part.style.background = colour;
        split.appendChild(part);
        const item = document.createElement("span");
        const swatch = document.createElement("i");
        swatch.style.background = colour;
        item.append(swatch, `${x.tier} ${pct(x.share, 0)}${x.top ? " (top)" : ""}`);
        legend.appendChild(item);
      }
      tiers.append(split, legend);
    }
    $("cache").innerHTML = `<div class="legend"><span>hit rate <b>${pct(o.cache_hit_rate)}</b></span><span>saved <b>${usd(o.cache_saved_usd)}</b> in 5 min</span></div>`;

    const time = (at) => new Date(at * 1000).toLocaleTimeString();
    $("events").innerHTML =
      `<tr><th>time</th><th>what</th><th>alias</th><th>from → to</th><th>cause</th><th class="num">status</th></tr>` +
      (d.events.length ? d.events.slice(0, 10).map((e) =>
        `<tr title="${esc((e.causes || []).join("; ") || e.message)}"><td>${time(e.at)}</td><td class="kind-${e.kind === "fallback" ? "fallback" : "failure"}">${esc(e.kind)}</td>` +
        `<td>${esc(e.alias)}</td><td>${e.from ? esc(e.from) + " → " + esc(e.to || "none") : "–"}</td><td>${esc(e.cause)}</td>` +
        `<td class="num">${e.status}</td></tr>`).join("")
        : `<tr><td colspan="6" class="empty">nothing has failed over</td></tr>`);
    $("refusals").innerHTML =
      `<tr><th>time</th><th>cause</th><th>alias</th><th>team</th><th class="num">status</th><th>detail</th></tr>` +
      (d.refusals.length ? d.refusals.slice(0, 10).map((e) =>
        `<tr title="${esc(e.message)}"><td>${time(e.at)}</td><td class="kind-refusal">${esc(e.cause)}</td><td>${esc(e.alias)}</td>` +
        `<td>${esc(e.team_name || e.team || "–")}</td><td class="num">${e.status}</td><td class="cut"><div>${esc(e.message)}</div></td></tr>`).join("")
        : `<tr><td colspan="6" class="empty">nothing refused</td></tr>`);
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("login-form").addEventListener("submit", (event) => {
      event.preventDefault();
      sessionStorage.setItem(KEY, $("key").value.trim());
      $("key").value = "";
      start();
    });
    $("logout").addEventListener("click", () => {
      sessionStorage.removeItem(KEY);
      showLogin("");
    });
    window.addEventListener("resize", () => last && render(last));
    if (sessionStorage.getItem(KEY) !== null) start();
    else showLogin("");
  });
})();
