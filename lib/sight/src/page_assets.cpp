#include "page_assets.hpp"

namespace pfo3::sight {

const char* const page_html_head = R"html(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>pfo3</title>
<link rel="stylesheet" href="/page.css">
<script src="/page.js" defer></script>
)html";

const char* const page_html_body = R"html(</head>
<body>
<header><h1>pfo3</h1><span id="status" class="muted">loading…</span></header>
<main>
<section id="health"><h2>Health</h2>
<dl>
<dt>ready</dt><dd id="h-ready">–</dd>
<dt>broker</dt><dd id="h-broker">–</dd>
<dt>confirm p50 / p99</dt><dd><span id="h-confirm-p50">–</span> / <span id="h-confirm-p99">–</span> ms</dd>
<dt>accept p50 / p99</dt><dd><span id="h-accept-p50">–</span> / <span id="h-accept-p99">–</span> ms</dd>
<dt>store</dt><dd id="h-store">–</dd>
<dt>version</dt><dd id="h-version">–</dd>
<dt>uptime</dt><dd id="h-uptime">–</dd>
<dt>workers ready / alive</dt><dd><span id="h-workers-ready">–</span> / <span id="h-workers-alive">–</span></dd>
</dl>
<ul id="h-checks" class="checks"></ul>
</section>
<section id="throughput"><h2>Tasks per minute, last hour</h2>
<div id="chart"></div>
<p class="legend"><span class="k accepted">accepted <b id="t-accepted">–</b></span>
<span class="k done">done <b id="t-done">–</b></span>
<span class="k retried">retried <b id="t-retried">–</b></span>
<span class="k dead">dead <b id="t-dead">–</b></span></p>
</section>
<section id="queues"><h2>Queues</h2>
<table><thead><tr><th>queue</th><th>messages</th><th>consumers</th></tr></thead><tbody id="q-rows"></tbody></table>
</section>
<section id="workers"><h2>Workers</h2>
<table><thead><tr><th>worker</th><th>state</th><th>ready</th><th>concurrency</th><th>in hand</th><th>done</th><th>retried</th><th>dead</th><th>seen</th></tr></thead>
<tbody id="w-rows"></tbody></table>
</section>
<section id="task"><h2>Task</h2>
<form id="task-form"><input id="task-id" name="id" placeholder="task id" maxlength="128" autocomplete="off" required>
<button type="submit">Look up</button></form>
<pre id="task-record" class="record"></pre>
</section>
<section id="dead"><h2>Dead letters</h2>
<p>in the dead-letter queue: <b id="d-depth">–</b></p>
<div id="d-actions" hidden><button id="d-requeue" type="button">Requeue all</button>
<button id="d-purge" type="button" class="danger">Purge all</button> <span id="d-result" class="muted"></span></div>
<table id="d-table" hidden><thead><tr><th>task</th><th>type</th><th>attempt</th><th>submitted</th><th>error</th><th></th></tr></thead><tbody id="d-rows"></tbody></table>
</section>
</main>
</body>
</html>
)html";

// Everything shown is set with textContent or as SVG attributes: no markup ever comes from data.
const char* const page_script = R"js("use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const csrfMeta = document.querySelector('meta[name="pfo3-csrf"]');
  const show = (v) => (v === null || v === undefined ? "–" : String(v));
  const set = (id, v) => { $(id).textContent = show(v); };
  const row = (cells, cls) => {
    const tr = document.createElement("tr");
    if (cls) tr.className = cls;
    for (const c of cells) {
      const td = document.createElement("td");
      if (c instanceof Node) td.appendChild(c); else td.textContent = show(c);
      tr.appendChild(td);
    }
    return tr;
  };
  const duration = (s) => {
    if (s === null || s === undefined) return "–";
    const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
    return (d ? d + "d " : "") + (d || h ? h + "h " : "") + m + "m " + (s % 60) + "s";
  };

  const SVG = "http://www.w3.org/2000/svg";
  const svgEl = (name, attrs) => {
    const e = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    return e;
  };
  // Without serve's metrics ([http] metrics = false) nothing counts accepted tasks: no line.
  function chart(t, counted) {
    const series = ["accepted", "done", "retried", "dead"].filter((s) => counted || s !== "accepted");
    const W = 600, H = 160, L = 40, B = 20;
    let max = 1;
    for (const s of series) for (const v of t[s]) max = Math.max(max, v);
    const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "tasks per minute" });
    svg.appendChild(svgEl("line", { x1: L, y1: H - B, x2: W, y2: H - B, class: "axis" }));
    svg.appendChild(svgEl("line", { x1: L, y1: 4, x2: L, y2: H - B, class: "axis" }));
    const label = (x, y, text, anchor) => {
      const e = svgEl("text", { x, y, "text-anchor": anchor, class: "tick" });
      e.textContent = text;
      svg.appendChild(e);
    };
    label(L - 4, 12, String(max), "end");
    label(L - 4, H - B, "0", "end");
    label(L, H - 4, "-60 min", "start");
    label(W, H - 4, "now", "end");
    const n = t.accepted.length;
    for (const s of series) {
      const pts = t[s].map((v, i) => `${L + (i * (W - L)) / (n - 1)},${H - B - (v * (H - B - 8)) / max}`);
      svg.appendChild(svgEl("polyline", { points: pts.join(" "), class: "line " + s }));
    }
    $("chart").replaceChildren(svg);
    for (const s of series) set("t-" + s, t.totals[s]);
    if (!counted) set("t-accepted", null);
  }

  function render(o) {
    set("h-ready", o.ready ? "ready" : "NOT READY");
    $("h-ready").className = o.ready ? "good" : "bad";
    set("h-broker", (o.broker.node || "–") + (o.broker.connected ? "" : " (disconnected)"));
    set("h-confirm-p50", o.confirm_ms.p50);
    set("h-confirm-p99", o.confirm_ms.p99);
    set("h-accept-p50", o.accept_ms.p50);
    set("h-accept-p99", o.accept_ms.p99);
    set("h-store", o.store);
    set("h-version", o.version);
    set("h-uptime", duration(o.uptime_s));
    set("h-workers-ready", o.workers.ready);
    set("h-workers-alive", o.workers.alive);
    $("h-checks").replaceChildren(...o.readiness.checks.map((c) => {
      const li = document.createElement("li");
      li.className = c.ok ? "good" : "bad";
      li.textContent = c.name + (c.ok ? ": ok" : ": " + c.error);
      return li;
    }));
    chart(o.throughput, o.metrics !== false);
    $("q-rows").replaceChildren(...o.queues.map((q) => row([q.name, q.messages, q.consumers])));
    const rows = [];
    for (const w of o.workers.list) {
      const b = w.beat || {};
      rows.push(row([w.id, w.gone ? "gone" : "alive", b.ready ? "yes" : "no", b.concurrency,
                     b.in_hand_count, b.done, b.retry, b.dead, w.seen_s_ago + " s ago"], w.gone ? "gone" : ""));
      for (const t of b.in_hand || [])
        rows.push(row(["", "running", t.id, t.type, t.age_s + " s", "", "", "", ""], "task"));
      if ((b.in_hand_count || 0) > (b.in_hand || []).length)
        rows.push(row(["", "", "… " + (b.in_hand_count - b.in_hand.length) + " more", "", "", "", "", "", ""], "task"));
    }
    $("w-rows").replaceChildren(...rows);
    set("d-depth", o.dead_letters.depth);
    const latest = o.dead_letters.latest;
    $("d-table").hidden = !Array.isArray(latest);
    const actions = Boolean(o.actions && csrfMeta);
    const button = (label, action, id) => {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = label;
      b.addEventListener("click", () => act(action, [id]));
      return b;
    };
    if (Array.isArray(latest))
      $("d-rows").replaceChildren(...latest.map((l) => {
        const cell = document.createElement("span");
        if (actions && l.id) cell.append(button("requeue", "requeue", l.id), " ", button("purge", "purge", l.id));
        return row([l.id, l.type, l.attempt, l.submitted_at, l.error, cell]);
      }));
    $("d-actions").hidden = !actions;
  }

  async function refresh() {
    try {
      const r = await fetch("/api/overview", { cache: "no-store", credentials: "same-origin" });
      if (!r.ok) throw new Error("HTTP " + r.status);
      render(await r.json());
      $("status").textContent = "updated " + new Date().toLocaleTimeString();
      document.body.dataset.loaded = "1";
    } catch (e) {
      $("status").textContent = "cannot refresh: " + e.message;
    }
  }

  async function lookup(ev) {
    ev.preventDefault();
    const id = $("task-id").value.trim();
    try {
      const r = await fetch("/api/task/" + encodeURIComponent(id), { cache: "no-store", credentials: "same-origin" });
      const body = await r.json();
      $("task-record").textContent = JSON.stringify(body, null, 2);
    } catch (e) {
      $("task-record").textContent = "cannot look it up: " + e.message;
    }
  }

  // `ids` absent: every dead letter.
  async function act(action, ids) {
    const what = ids ? ids.length + " dead letter(s)" : "every dead letter";
    if (action === "purge" && !window.confirm("Purge " + what + "? They are gone for good.")) return;
    try {
      const r = await fetch("/api/dead/" + action, {
        method: "POST", cache: "no-store", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfMeta.content },
        body: JSON.stringify(ids ? { ids } : {}),
      });
      $("d-result").textContent = action + ": " + (r.ok ? "" : "HTTP " + r.status + " ") + (await r.text());
    } catch (e) {
      $("d-result").textContent = action + " failed: " + e.message;
    }
    refresh();
  }

  $("task-form").addEventListener("submit", lookup);
  $("d-requeue").addEventListener("click", () => act("requeue"));
  $("d-purge").addEventListener("click", () => act("purge"));
  refresh();
  setInterval(refresh, 5000);
})();
)js";

const char* const page_style = R"css(
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f5f6f8; }
header { display: flex; align-items: baseline; gap: 1em; padding: .5em 1em; background: #1d2330; color: #fff; }
header h1 { font-size: 1.2em; margin: 0; }
main { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 1em; padding: 1em; }
section { background: #fff; border: 1px solid #dde1e8; border-radius: 6px; padding: .5em 1em 1em; }
h2 { font-size: 1em; margin: .3em 0 .6em; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2em 1em; margin: 0; }
dt { color: #5b6475; }
dd { margin: 0; font-variant-numeric: tabular-nums; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: .15em .5em .15em 0; border-bottom: 1px solid #eef0f4; word-break: break-all; }
tr.gone td { color: #9aa1ad; }
tr.task td { color: #5b6475; font-size: .9em; }
.good { color: #17803d; }
.bad { color: #b42318; font-weight: bold; }
.muted { color: #9aa1ad; }
.checks { margin: .5em 0 0; padding-left: 1.2em; }
.record { white-space: pre-wrap; word-break: break-all; background: #f5f6f8; padding: .5em; min-height: 2em; }
svg { width: 100%; height: auto; }
.axis { stroke: #9aa1ad; stroke-width: 1; }
.tick { font-size: 10px; fill: #5b6475; }
.line { fill: none; stroke-width: 2; }
.line.accepted, .k.accepted b { stroke: #2563eb; color: #2563eb; }
.line.done, .k.done b { stroke: #17803d; color: #17803d; }
.line.retried, .k.retried b { stroke: #d97706; color: #d97706; }
.line.dead, .k.dead b { stroke: #b42318; color: #b42318; }
.legend { display: flex; gap: 1.5em; margin: .3em 0 0; }
button.danger { color: #b42318; }
)css";

}  // namespace pfo3::sight
