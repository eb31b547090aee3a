// The status page's script: asks /api/status every two seconds and draws it. No framework, no
// build step: the page must open from any `omnitron start` without anything else installed.
'use strict';

const REFRESH_MS = 2000;
const HISTORY = 60; // points kept per chart: two minutes
const history = new Map(); // chart key -> [{t, v}]
let selectedTrace = null;
const openRuns = new Map(); // run id -> whether its details are open (what the user chose)

// ---- small helpers -------------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'onclick') e.addEventListener('click', v);
    else if (k === 'style') e.setAttribute('style', v);
    else e.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function badge(state) {
  return el('span', { class: 'badge ' + String(state).split(':')[0] }, state);
}

function fill(id, ...content) {
  const body = document.querySelector('#' + id + ' .body');
  body.replaceChildren(...content.flat());
}

function empty(text) {
  return el('div', { class: 'empty' }, text);
}

function table(headers, rows, numeric = []) {
  return el('table', {},
    el('thead', {}, el('tr', {}, headers.map((h, i) => el('th', { class: numeric.includes(i) ? 'num' : null }, h)))),
    el('tbody', {}, rows.map((r) => el('tr', {}, r.map((c, i) => el('td', { class: numeric.includes(i) ? 'num' : null }, c))))));
}

function fmtNum(v, digits = 1) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  if (Math.abs(v) >= 1e6) return (v / 1e6).toFixed(digits) + 'M';
  if (Math.abs(v) >= 1e4) return (v / 1e3).toFixed(digits) + 'k';
  return Number.isInteger(v) ? String(v) : v.toFixed(digits);
}

function fmtBytes(b) {
  if (b === null || b === undefined) return '–';
  return (b / 1048576).toFixed(1) + ' MiB';
}

function fmtSecs(s) {
  if (s === null || s === undefined) return '–';
  if (s < 60) return s.toFixed(0) + ' s';
  if (s < 3600) return (s / 60).toFixed(0) + ' min';
  return (s / 3600).toFixed(1) + ' h';
}

function fmtMs(ms) {
  if (ms < 1) return (ms * 1000).toFixed(0) + ' µs';
  if (ms < 1000) return ms.toFixed(ms < 10 ? 2 : 1) + ' ms';
  return (ms / 1000).toFixed(2) + ' s';
}

function procName(p) {
  return p.name + '[' + p.index + ']';
}

// Every process's report, with the name the page shows it under (the supervisor's included).
function reports(data) {
  const out = [];
  if (data.supervisor && data.supervisor.report) out.push({ who: 'supervisor', report: data.supervisor.report });
  for (const p of data.processes) if (p.report) out.push({ who: procName(p), report: p.report });
  return out;
}

// [{who, labels, value}] for one metric family across every process.
function series(data, name) {
  const out = [];
  for (const { who, report } of reports(data)) {
    for (const fam of report.metrics || []) {
      if (fam.name !== name) continue;
      for (const s of fam.series) out.push({ who, labels: s.labels, value: s.value, type: fam.type });
    }
  }
  return out;
}

// ---- sections ------------------------------------------------------------------------------

function drawProcesses(data) {
  const rows = data.processes.map((p) => [
    el('strong', {}, procName(p)),
    p.pid ?? '–',
    badge(p.state),
    p.restarts,
    p.last_exit ? el('span', { class: 'muted' }, p.last_exit) : '–',
    p.cpu_percent === null || p.cpu_percent === undefined ? '–' : p.cpu_percent.toFixed(1) + ' %',
    fmtBytes(p.rss_bytes),
    fmtSecs(p.uptime_seconds),
    p.services.map((s) => s.id).join(', ') || (p.report_error ? el('span', { class: 'muted' }, p.report_error) : '–'),
  ]);
  fill('processes', data.processes.length ? table(
    ['process', 'pid', 'state', 'restarts', 'last exit', 'CPU', 'memory', 'uptime', 'services'], rows, [1, 3, 5, 6, 7],
  ) : empty('No processes.'));
}

function drawServices(data) {
  const byService = new Map();
  for (const p of data.processes) {
    for (const s of p.services) {
      if (!byService.has(s.id)) byService.set(s.id, { methods: s.methods, instances: [] });
      byService.get(s.id).instances.push(procName(p) + (p.state === 'running' ? '' : ' (' + p.state + ')'));
    }
  }
  // Calls served and errors, summed over instances (the engine counts them per service name).
  const calls = new Map();
  for (const s of series(data, 'omnitron_rpc_requests_total')) {
    calls.set(s.labels.service, (calls.get(s.labels.service) || 0) + s.value);
  }
  const errors = new Map();
  for (const s of series(data, 'omnitron_rpc_errors_total')) {
    errors.set(s.labels.service, (errors.get(s.labels.service) || 0) + s.value);
  }
  const rows = [...byService.entries()].sort().map(([id, s]) => {
    const name = id.split('@')[0];
    const c = calls.get(id) ?? calls.get(name) ?? 0;
    const e = errors.get(id) ?? errors.get(name) ?? 0;
    return [el('strong', {}, id), s.instances.join(', '), s.methods.join(', '), fmtNum(c, 0), fmtNum(e, 0)];
  });
  fill('services', rows.length ? table(['service', 'instances', 'methods', 'calls', 'errors'], rows, [3, 4])
    : empty('No process has registered a service.'));
}

function drawBreakers(data) {
  const names = ['closed', 'open', 'half-open'];
  const rows = series(data, 'omnitron_circuit_breaker_state').map((s) => [
    el('strong', {}, s.labels.breaker), s.who, badge(names[s.value] ?? String(s.value)),
  ]);
  fill('breakers', rows.length ? table(['breaker', 'process', 'state'], rows) : empty('No circuit breakers.'));
}

function drawPools(data) {
  const pools = new Map();
  const key = (s) => s.who + ' ' + s.labels.pool;
  for (const s of series(data, 'omnitron_pool_workers')) {
    if (!pools.has(key(s))) pools.set(key(s), { who: s.who, pool: s.labels.pool, workers: {}, queue: 0 });
    pools.get(key(s)).workers[s.labels.state] = s.value;
  }
  for (const s of series(data, 'omnitron_pool_queue_depth')) {
    if (pools.has(key(s))) pools.get(key(s)).queue = s.value;
  }
  const rows = [...pools.values()].map((p) => [
    el('strong', {}, p.pool), p.who,
    Object.entries(p.workers).map(([st, n]) => st + ' ' + n).join(', '),
    fmtNum(p.queue, 0),
  ]);
  fill('pools', rows.length ? table(['pool', 'process', 'workers', 'queued'], rows, [3]) : empty('No process pools.'));
}

function stageRows(run) {
  return run.stages.map((s) => [
    s.name, badge(s.state), s.attempts,
    s.started_at_ms && s.finished_at_ms ? fmtMs(s.finished_at_ms - s.started_at_ms) : '–',
    s.compensation_attempts ? s.compensation_attempts + ' attempt(s)' : '–',
    [...s.errors, ...s.compensation_errors].map((e) => '#' + e.attempt + ' [' + e.error.code + '] ' + e.error.message).join('; ') || '–',
  ]);
}

function drawWorkflows(data) {
  const parts = [];
  for (const { who, report } of reports(data)) {
    for (const w of report.workflows || []) {
      if (w.error) { parts.push(el('div', { class: 'empty' }, who + ': ' + w.error)); continue; }
      const states = Object.entries(w.states).filter(([, n]) => n > 0);
      parts.push(el('h3', { style: 'font-size:13px;margin:8px 0 4px' },
        who + ' · ' + (w.workflows.join(', ') || 'no workflows registered') + ' · ' + w.total + ' runs'));
      parts.push(states.length
        ? el('div', { class: 'states' }, states.map(([st, n]) => el('span', { style: 'margin-right:10px' }, badge(st), ' ', n)))
        : empty('No runs yet.'));
      for (const run of w.runs) {
        const took = run.finished_at_ms ? ' · ' + fmtMs(run.finished_at_ms - run.created_at_ms) : '';
        const open = openRuns.has(run.run_id) ? openRuns.get(run.run_id) : run === w.runs[0];
        const details = el('details', { class: 'run', open: open ? 'open' : null },
          el('summary', {}, badge(run.state), ' ', el('code', {}, run.run_id), ' ', run.workflow, took,
            run.error ? el('span', { class: 'muted' }, ' · [' + run.error.code + '] ' + run.error.message) : ''),
          table(['stage', 'state', 'attempts', 'took', 'compensation', 'errors'], stageRows(run), [2, 3]));
        details.addEventListener('toggle', () => openRuns.set(run.run_id, details.open));
        parts.push(details);
      }
    }
  }
  fill('workflows', parts.length ? parts : empty('No workflow engine in any process.'));
}

function collectTraces(data) {
  const traces = new Map();
  for (const { who, report } of reports(data)) {
    for (const s of report.spans || []) {
      if (!traces.has(s.trace_id)) traces.set(s.trace_id, new Map());
      // A span seen twice (two polls of one process) is one span.
      traces.get(s.trace_id).set(s.span_id, { ...s, who });
    }
  }
  return [...traces.entries()].map(([id, m]) => {
    const spans = [...m.values()];
    const start = Math.min(...spans.map((s) => s.start_ns));
    const end = Math.max(...spans.map((s) => s.end_ns));
    const ids = new Set(spans.map((s) => s.span_id));
    const root = spans.find((s) => !s.parent_span_id || !ids.has(s.parent_span_id));
    // Whole: its root span is here (a long trace's early spans may have left a busy process's ring).
    const whole = spans.some((s) => !s.parent_span_id);
    return { id, spans, start, end, root, whole, services: [...new Set(spans.map((s) => s.service))], error: spans.some((s) => s.status === 'error') };
  }).sort((a, b) => b.end - a.end);
}

// Spans in tree order, each with its depth; spans whose parent is in another process not seen
// here start a branch of their own.
function ordered(trace) {
  const children = new Map();
  const ids = new Set(trace.spans.map((s) => s.span_id));
  const roots = [];
  for (const s of trace.spans) {
    if (s.parent_span_id && ids.has(s.parent_span_id)) {
      if (!children.has(s.parent_span_id)) children.set(s.parent_span_id, []);
      children.get(s.parent_span_id).push(s);
    } else roots.push(s);
  }
  const out = [];
  const walk = (s, depth) => {
    out.push({ span: s, depth });
    for (const c of (children.get(s.span_id) || []).sort((a, b) => a.start_ns - b.start_ns)) walk(c, depth + 1);
  };
  for (const r of roots.sort((a, b) => a.start_ns - b.start_ns)) walk(r, 0);
  return out;
}

function waterfall(trace) {
  const total = Math.max(trace.end - trace.start, 1);
  const services = [...trace.services].sort();
  return el('div', { class: 'waterfall', 'data-trace': trace.id },
    el('div', { class: 'caption muted' },
      'Trace ' + trace.id + ': ' + trace.spans.length + ' spans across ' + services.join(', ') + ' in ' + fmtMs(total / 1e6)),
    ordered(trace).map(({ span, depth }) => {
      const left = ((span.start_ns - trace.start) / total) * 100;
      const width = Math.max(((span.end_ns - span.start_ns) / total) * 100, 0.3);
      return el('div', { class: 'span', title: span.name + (span.error ? ' — ' + span.error : '') },
        el('div', { class: 'label', style: 'padding-left:' + depth * 14 + 'px' },
          el('strong', {}, span.service), ' ', span.name),
        el('div', { class: 'track' },
          el('div', { class: 'bar' + (span.status === 'error' ? ' error' : ''), style: 'left:' + left + '%;width:' + width + '%' }),
          el('span', { class: 'time' }, fmtMs((span.end_ns - span.start_ns) / 1e6))));
    }));
}

function drawTraces(data) {
  const tracing = reports(data).some(({ report }) => report.tracing);
  const traces = collectTraces(data);
  if (!traces.length) {
    fill('traces', empty(tracing
      ? 'No traces yet: spans appear here when calls are made.'
      : 'Tracing is off, or no process keeps spans for the page: add a tracing: section to omnitron.yaml (docs/OBSERVABILITY.md).'));
    return;
  }
  // By default the latest whole trace that crossed the most services (any trace if none is whole).
  if (!selectedTrace || !traces.some((t) => t.id === selectedTrace)) {
    const pool = traces.some((t) => t.whole) ? traces.filter((t) => t.whole) : traces;
    const widest = Math.max(...pool.map((t) => t.services.length));
    selectedTrace = pool.find((t) => t.services.length === widest).id;
  }
  const rows = traces.slice(0, 15).map((t) => el('tr', {
    class: 'trace' + (t.id === selectedTrace ? ' selected' : ''),
    onclick: () => { selectedTrace = t.id; drawTraces(data); },
  },
  el('td', {}, el('code', {}, t.id.slice(0, 12))),
  el('td', {}, t.root ? t.root.name : '–'),
  el('td', {}, t.services.join(' → ')),
  el('td', { class: 'num' }, t.spans.length),
  el('td', { class: 'num' }, fmtMs((t.end - t.start) / 1e6)),
  el('td', {}, t.error ? badge('error') : badge('ok'))));
  const selected = traces.find((t) => t.id === selectedTrace);
  fill('traces',
    el('table', { class: 'traces' },
      el('thead', {}, el('tr', {}, ['trace', 'root', 'services', 'spans', 'took', ''].map((h) => el('th', {}, h)))),
      el('tbody', {}, rows)),
    waterfall(selected));
}

// ---- charts --------------------------------------------------------------------------------

function record(key, t, v) {
  if (!history.has(key)) history.set(key, []);
  const h = history.get(key);
  h.push({ t, v });
  while (h.length > HISTORY) h.shift();
}

// A counter's rate per second between the last two points.
function rates(points) {
  const out = [];
  for (let i = 1; i < points.length; i++) {
    const dt = (points[i].t - points[i - 1].t) / 1000;
    out.push(dt > 0 ? Math.max(points[i].v - points[i - 1].v, 0) / dt : 0);
  }
  return out;
}

function sparkline(values) {
  const w = 200, h = 40;
  const max = Math.max(...values, 1e-9);
  const pts = values.map((v, i) => (values.length < 2 ? 0 : (i / (values.length - 1)) * w).toFixed(1) + ',' + (h - 2 - (v / max) * (h - 4)).toFixed(1));
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', '0 0 ' + w + ' ' + h);
  svg.setAttribute('preserveAspectRatio', 'none');
  const line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
  line.setAttribute('points', pts.join(' '));
  svg.append(line);
  return svg;
}

function drawMetrics(data) {
  const t = data.time_ms;
  const sums = new Map(); // family -> {type, help, value}
  for (const { report } of reports(data)) {
    for (const fam of report.metrics || []) {
      let v = 0;
      for (const s of fam.series) v += typeof s.value === 'number' ? s.value : (s.value.count || 0);
      const prev = sums.get(fam.name);
      sums.set(fam.name, { type: fam.type, help: fam.help, value: (prev ? prev.value : 0) + v });
    }
  }
  let cpu = 0, rss = 0;
  for (const p of data.processes) { cpu += p.cpu_percent || 0; rss += p.rss_bytes || 0; }
  record('cpu', t, cpu);
  record('rss', t, rss);
  for (const [name, f] of sums) record(name, t, f.value);
  const charts = [
    { title: 'CPU, all processes (%)', values: history.get('cpu').map((p) => p.v), fmt: (v) => v.toFixed(1) },
    { title: 'Memory, all processes', values: history.get('rss').map((p) => p.v), fmt: fmtBytes },
  ];
  for (const [name, f] of [...sums.entries()].sort()) {
    const pts = history.get(name);
    // Counters and histograms as a rate; gauges as their value.
    if (f.type === 'gauge') charts.push({ title: name, help: f.help, values: pts.map((p) => p.v), fmt: (v) => fmtNum(v) });
    else charts.push({ title: name + ' /s', help: f.help, values: rates(pts), fmt: (v) => fmtNum(v) });
  }
  fill('metrics', el('div', { class: 'charts' }, charts.map((c) => el('div', { class: 'chart', title: c.help || c.title, 'data-metric': c.title },
    el('div', { class: 'title' }, c.title),
    el('div', { class: 'value' }, c.values.length ? c.fmt(c.values[c.values.length - 1]) : '…'),
    sparkline(c.values.length ? c.values : [0])))));
}

// ---- the loop ------------------------------------------------------------------------------

function draw(data) {
  document.title = data.app + ' · Omnitron status';
  document.getElementById('app').textContent = data.app;
  const s = data.supervisor;
  document.getElementById('supervisor').textContent =
    'supervisor pid ' + s.pid + ' · ' + s.state + ' · up ' + fmtSecs(s.uptime_seconds);
  document.getElementById('updated').textContent = 'updated ' + new Date(data.time_ms).toLocaleTimeString();
  drawProcesses(data);
  drawServices(data);
  drawBreakers(data);
  drawPools(data);
  drawWorkflows(data);
  drawTraces(data);
  drawMetrics(data);
  document.body.dataset.loaded = 'true';
}

async function tick() {
  const banner = document.getElementById('banner');
  let data;
  try {
    const r = await fetch('/api/status', { cache: 'no-store' });
    if (!r.ok) throw new Error('HTTP ' + r.status);
    data = await r.json();
  } catch (e) {
    banner.textContent = 'Cannot reach the supervisor (' + e.message + '): is the application still running?';
    banner.style.display = 'block';
    setTimeout(tick, REFRESH_MS);
    return;
  }
  try {
    draw(data);
    banner.style.display = 'none';
  } catch (e) {
    banner.textContent = 'The page could not draw what the supervisor sent: ' + e.message;
    banner.style.display = 'block';
  } finally {
    setTimeout(tick, REFRESH_MS);
  }
}

tick();
