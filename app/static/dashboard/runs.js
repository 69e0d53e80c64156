// The runs monitor: polls GET /api/runs, and follows runs' streams (the shared JS client's
// watchRun) for their stage timelines: live runs as they happen, finished runs replayed once.
// Server text is only ever set with textContent.
import { isTerminal, watchRun } from '../stagecast.js';
import { API, authFetch, authHeaders } from './auth.js';
import { $, ago, el, formatMs, languageOf, replace, stageLabel } from './dom.js';

const POLL_MS = 1000;
// Browsers keep at most 6 HTTP/1.1 connections per host: leave room for the poll and the
// dashboard in another tab.
const MAX_LIVE_WATCHES = 3;
const MAX_REPLAYS = 2;
const LIVE = new Set(['pending', 'running']);

const ui = {
  body: $('#runs-body'),
  active: $('#active-count'),
  recent: $('#recent-count'),
  refreshed: $('#refreshed'),
  error: $('#runs-error'),
  auto: $('#auto-refresh'),
};

/** run_id -> { handle, state, live } for the streams followed for timelines. */
const timelines = new Map();
let runs = [];
let frame = 0;
let timer = 0;

async function poll() {
  clearTimeout(timer);
  try {
    const response = await authFetch(`${API}/runs`, { headers: { Accept: 'application/json' }, cache: 'no-store' });
    const body = await response.json().catch(() => null);
    if (!response.ok) throw new Error(body?.message ?? `HTTP ${response.status}`);
    runs = Array.isArray(body?.runs) ? body.runs : [];
    ui.error.hidden = true;
    ui.refreshed.textContent = `updated ${new Date().toLocaleTimeString()}`;
    followTimelines();
  } catch (err) {
    ui.error.hidden = false;
    ui.error.textContent = `Could not load the runs: ${err.message}`;
  }
  schedule();
  if (ui.auto.checked) timer = setTimeout(poll, POLL_MS);
}

function followTimelines() {
  const listed = new Set(runs.map((r) => r.run_id));
  for (const [runId, entry] of timelines) {
    if (!listed.has(runId)) {
      entry.handle?.abort();
      timelines.delete(runId);
    }
  }
  const following = (live) => [...timelines.values()].filter((t) => t.live === live && !isTerminal(t.state?.status ?? 'idle')).length;
  for (const run of runs) {
    if (timelines.has(run.run_id)) continue;
    const live = LIVE.has(run.status);
    if (following(live) >= (live ? MAX_LIVE_WATCHES : MAX_REPLAYS)) continue;
    const entry = { handle: null, state: null, live };
    entry.handle = watchRun(run.run_id, {
      onState: (state) => {
        entry.state = state;
        schedule();
      },
    }, { maxRetries: 2, headers: authHeaders(), apiPath: API });
    entry.handle.done.then(() => {
      // The next timeline can load at once. One that could not be read (e.g. the run is on
      // another worker) is not retried.
      followTimelines();
      schedule();
    });
    timelines.set(run.run_id, entry);
  }
}

function schedule() {
  if (!frame) frame = requestAnimationFrame(draw);
}

function draw() {
  frame = 0;
  ui.active.textContent = String(runs.filter((r) => LIVE.has(r.status)).length);
  ui.recent.textContent = String(runs.length);
  if (!runs.length) return;
  replace(ui.body, runs.map(row));
  if (location.hash) document.getElementById(decodeURIComponent(location.hash.slice(1)))?.classList.add('highlight');
}

function row(run) {
  const live = LIVE.has(run.status);
  const now = Date.now();
  const duration = run.duration_ms ?? (run.started_at ? now - run.started_at * 1000 : null);
  return el(
    'tr',
    { id: run.run_id, class: live ? 'run-live' : '', dataset: { runId: run.run_id, status: run.status } },
    el('td', {}, el('span', { class: 'pill', dataset: { status: run.status }, text: run.status })),
    el('td', {},
      el('a', { class: 'mono', href: `/?run=${encodeURIComponent(run.run_id)}`, title: `Open run ${run.run_id} on the dashboard`, text: run.run_id.slice(0, 8) }),
      el('div', { class: 'muted small mono', title: `conversation ${run.thread_id}`, text: `thread ${String(run.thread_id).slice(0, 8)}` })),
    el('td', { text: run.agent }),
    el('td', { class: 'small mono', title: `executed by ${run.worker ?? '?'}` },
      el('div', { text: run.worker ?? '' }),
      run.attempt > 1 ? el('div', { class: 'muted', text: `attempt ${run.attempt}` }) : null),
    el('td', { class: 'nowrap', title: new Date(run.created_at * 1000).toISOString(), text: ago(run.created_at * 1000, now) }),
    el('td', { class: 'num', text: duration === null ? '' : formatMs(duration) }),
    el('td', { class: 'num', text: String(run.events) }),
    el('td', { class: 'num', text: String(run.subscribers) }),
    el('td', {}, timeline(run, timelines.get(run.run_id)?.state, now)),
    el('td', { class: 'run-result' }, result(run, timelines.get(run.run_id)?.state)),
    el('td', {}, live ? el('button', { class: 'btn-small', type: 'button', text: 'Cancel', onclick: () => cancel(run.run_id) }) : null),
  );
}

function timeline(run, state, now) {
  const stages = (state?.stages ?? []).filter((s) => s.startedAt !== null);
  if (!stages.length) return el('span', { class: 'muted small', text: LIVE.has(run.status) ? 'waiting for stages…' : '–' });
  const start = state.startedAt ?? stages[0].startedAt;
  const end = state.endedAt ?? Math.max(now, ...stages.map((s) => s.endedAt ?? s.startedAt));
  const total = Math.max(1, end - start);
  const colors = new Map();
  const colorOf = (name) => {
    if (!colors.has(name)) colors.set(name, colors.size % 5);
    return colors.get(name);
  };
  const bar = el('div', { class: 'timeline', attrs: { role: 'img', 'aria-label': 'stage timeline' } });
  const legend = el('div', { class: 'timeline-legend' });
  for (const stage of stages) {
    const stageEnd = stage.endedAt ?? (isTerminal(state.status) ? end : now);
    const left = ((stage.startedAt - start) / total) * 100;
    const width = ((stageEnd - stage.startedAt) / total) * 100;
    const running = stage.status !== 'completed' && !isTerminal(state.status);
    const took = formatMs(stageEnd - stage.startedAt);
    bar.append(el('span', {
      class: `timeline-seg seg-${colorOf(stage.stage)}${running ? ' running' : ''}`,
      style: { left: `${Math.max(0, Math.min(100, left))}%`, width: `${Math.max(0.5, Math.min(100, width))}%` },
      title: `${stageLabel(stage.stage)}: ${took}${running ? ' so far' : ''}`,
      dataset: { stage: stage.stage },
    }));
    legend.append(el('span', {},
      el('span', { class: `dot seg-${colorOf(stage.stage)}` }),
      `${stageLabel(stage.stage)} ${took}${running ? '…' : ''}`));
  }
  return el('div', {}, bar, legend);
}

// The list carries no answers (it stays small however many runs there are): the answer
// comes from the run's own stream, which the monitor follows for its timeline.
function result(run, state) {
  if (run.error) return el('span', { class: 'muted', text: `${run.error.error}: ${run.error.message}` });
  const content = state?.answer;
  if (content) return el('span', { text: content, title: content, lang: languageOf(content) });
  return el('span', { class: 'muted', text: LIVE.has(run.status) ? '…' : '' });
}

async function cancel(runId) {
  try {
    await authFetch(`${API}/runs/${encodeURIComponent(runId)}/cancel`, { method: 'POST' });
  } finally {
    poll();
  }
}

ui.auto.addEventListener('change', () => {
  if (ui.auto.checked) poll();
  else clearTimeout(timer);
});
window.addEventListener('pagehide', () => {
  for (const entry of timelines.values()) entry.handle?.abort();
});
setInterval(() => {
  if (runs.some((r) => LIVE.has(r.status))) schedule();
}, 250);
document.getElementById('runs-monitor').dataset.ready = 'true';
poll();
