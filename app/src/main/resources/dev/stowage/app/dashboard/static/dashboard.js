// The dashboard's glue: charts (uPlot), the DAG (Cytoscape), and action buttons that call the API.
// Pages are rendered by the server; htmx swaps their live parts when the event stream says so.
"use strict";

(function () {
  const COLOURS = ["#0b5cad", "#8250df", "#1a7f37", "#b35900", "#bf3989", "#57606a", "#0a7ea4"];
  const charts = {};
  let lastChartLoad = 0;

  // A page left for another stays in the browser's back/forward cache with its event stream open,
  // holding one of the server's streams: close it as the page is hidden (through the SSE
  // extension's own hook for making its sources), and load the page afresh if it comes back.
  const sources = new Set();
  const createEventSource = htmx.createEventSource;
  htmx.createEventSource = (url) => {
    const source = createEventSource(url);
    sources.add(source);
    return source;
  };
  window.addEventListener("pagehide", () => sources.forEach((s) => s.close()));
  window.addEventListener("pageshow", (e) => {
    if (e.persisted) location.reload();
  });

  async function json(url) {
    const r = await fetch(url, { headers: { Accept: "application/json" } });
    if (!r.ok) throw new Error(url + " answered " + r.status);
    return r.json();
  }

  function size(el) {
    return { width: Math.max(320, el.clientWidth - 8), height: 200 };
  }

  function draw(el, opts, data) {
    const name = el.dataset.chart;
    if (charts[name]) charts[name].destroy();
    el.textContent = "";
    charts[name] = new uPlot(Object.assign(size(el), opts), data, el);
  }

  function series(labels) {
    return [{}].concat(labels.map((l, i) => ({ label: l, stroke: COLOURS[i % COLOURS.length] })));
  }

  async function loadCharts() {
    const els = document.querySelectorAll("[data-chart]");
    if (!els.length || typeof uPlot === "undefined") return;
    lastChartLoad = Date.now();
    const history = await json("/ui/data/history");
    for (const el of els) {
      const name = el.dataset.chart;
      if (name === "utilisation") {
        draw(el, { series: series(history.dimensions), scales: { y: { range: [0, 100] } } },
          [history.t].concat(history.used));
      } else if (name === "shares") {
        const queues = Object.keys(history.shares);
        draw(el, { series: series(queues) },
          [history.t].concat(queues.map((q) => history.shares[q])));
      } else if (name === "rates") {
        draw(el, {
          series: [{}, { label: "placed", stroke: COLOURS[0] },
            { label: "failure ratio", stroke: COLOURS[4], scale: "ratio" }],
          scales: { ratio: { range: [0, 1] } },
          axes: [{}, {}, { scale: "ratio", side: 1 }],
        }, [history.t, history.placed, history.failureRatio]);
      } else if (name === "phases") {
        // Stacked: each series is the running sum, drawn as bars from the largest down; no bar
        // where no cycle ran.
        const names = Object.keys(history.phaseMs);
        const sums = [];
        let acc = history.t.map(() => 0);
        for (const n of names) {
          acc = acc.map((v, i) => (v === null || history.phaseMs[n][i] === null
            ? null : v + history.phaseMs[n][i]));
          sums.push(acc);
        }
        const bars = uPlot.paths.bars({ size: [0.8] });
        const s = [{}];
        const d = [history.t];
        for (let i = names.length - 1; i >= 0; i--) {
          // The legend gives the phase's own time, not the running sum its bar reaches.
          const own = history.phaseMs[names[i]];
          s.push({ label: names[i], fill: COLOURS[i % COLOURS.length],
            stroke: COLOURS[i % COLOURS.length], paths: bars, points: { show: false },
            value: (u, v, si, idx) => (idx == null || own[idx] == null ? "--"
              : own[idx].toFixed(1)) });
          d.push(sums[i]);
        }
        draw(el, { series: s }, d);
      }
    }
  }

  let cy = null;
  const STATE_COLOURS = { succeeded: "#1a7f37", failed: "#b42318", upstream_failed: "#b42318",
    cancelled: "#6e7781", running: "#0b5cad", launched: "#0b5cad", assigned: "#0b5cad",
    staging: "#0b5cad", queued: "#8a6100", waiting: "#8a6100" };

  async function loadDag() {
    const el = document.getElementById("dag");
    if (!el || typeof cytoscape === "undefined") return;
    const g = await json("/ui/data/dag/" + el.dataset.dag);
    if (cy) {
      for (const n of g.nodes) {
        const node = cy.getElementById(n.id);
        if (node.nonempty()) node.data("state", n.state);
      }
      return;
    }
    cy = cytoscape({
      container: el,
      elements: g.nodes.map((n) => ({ data: n }))
        .concat(g.edges.map((e) => ({ data: { id: e.source + "->" + e.target, ...e } }))),
      layout: { name: "breadthfirst", directed: true, spacingFactor: 1.1 },
      style: [
        { selector: "node", style: { label: (n) => n.data("id") + "\n" + n.data("state"),
          "text-wrap": "wrap", "font-size": 11, "text-valign": "bottom",
          "background-color": (n) => STATE_COLOURS[n.data("state")] || "#57606a" } },
        { selector: "edge", style: { "curve-style": "bezier", "target-arrow-shape": "triangle",
          width: 1.5, "line-color": "#8c959f", "target-arrow-color": "#8c959f" } },
      ],
    });
  }

  // One POST per path the button names (a DAG's cancel names one per task), each answer shown.
  // An action at work is not sent again, even from the button a live update put in place of the
  // one clicked; its buttons are marked aria-disabled, not disabled: a disabled button loses the
  // keyboard's focus, which the live update would then not give back.
  const working = new Set();

  function mark(action, atWork) {
    for (const b of document.querySelectorAll("button[data-action]")) {
      if (b.dataset.action !== action) continue;
      if (atWork) b.setAttribute("aria-disabled", "true");
      else b.removeAttribute("aria-disabled");
    }
  }

  async function act(button) {
    const action = button.dataset.action;
    if (working.has(action)) return;
    working.add(action);
    mark(action, true);
    const out = document.getElementById("action-result");
    const lines = [];
    try {
      for (const path of action.split(" ")) {
        const r = await fetch(path, {
          method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
        const body = await r.text();
        let message = body;
        try {
          const j = JSON.parse(body);
          message = j.error || (j.state ? j.id + ": " + j.state : body);
          if (j.reopened && j.reopened.length) {
            message += "; " + j.reopened.length + " task(s) below wait again";
          }
        } catch (e) { /* not JSON: shown as it is */ }
        lines.push((r.ok ? "" : "refused (" + r.status + "): ") + message);
      }
    } catch (e) {
      lines.push("failed: " + e.message);
    } finally {
      working.delete(action);
      mark(action, false);
    }
    if (out) out.textContent = lines.join("; ");
  }

  document.addEventListener("htmx:afterSwap", () => working.forEach((a) => mark(a, true)));

  document.addEventListener("click", (e) => {
    const b = e.target.closest("button[data-action]");
    if (b) act(b);
  });

  // The server's stream said cycles ran: charts at most every 10 s (their samples are 10 s apart).
  document.addEventListener("htmx:sseMessage", (e) => {
    if (e.detail && e.detail.type === "cycle") {
      if (Date.now() - lastChartLoad > 10000) loadCharts().catch(console.warn);
      loadDag().catch(console.warn);
    }
  });

  document.addEventListener("DOMContentLoaded", () => {
    loadCharts().catch(console.warn);
    loadDag().catch(console.warn);
  });
})();
