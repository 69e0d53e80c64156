// The dashboard: pick an agent, ask a question, watch the run's stages (and the stages of
// subgraphs, nested under theirs), tool calls, the answer typing in, its sources, table and
// chart; answer the question of a paused run (an `interrupt`). The run is followed by the shared JS client (/static/stagecast.js), which
// rejoins after a network drop with Last-Event-ID; this module only draws its state.
// Text from the model or the server is always set as text (textContent), never as HTML.
import { forkPoint, messagesAt } from '../branches.js';
import { initialState, isTerminal, stream, watchRun } from '../stagecast.js';
import { API, authHeaders, ensureToken, forgetToken } from './auth.js';
import { renderChart } from './chart.js';
import { $, el, formatMs, formatValue, languageOf, replace, stageLabel } from './dom.js';
import { Typewriter } from './typewriter.js';

const root = $('#dashboard');
const ACTIVE = new Set(['connecting', 'streaming', 'reconnecting']);
const STATUS_TEXT = {
  idle: 'idle',
  connecting: 'connecting…',
  streaming: 'streaming',
  reconnecting: 'reconnecting…',
  success: 'done',
  error: 'error',
  cancelled: 'cancelled',
  timeout: 'timed out',
  paused: 'waiting for you',
};

const ui = {
  form: $('#ask-form'),
  question: $('#question'),
  agent: $('#agent'),
  questionCard: $('#question-card'),
  interrupts: $('#interrupts'),
  ask: $('#ask'),
  cancel: $('#cancel'),
  conversationId: $('#conversation-id'),
  newConversation: $('#new-conversation'),
  status: $('#status'),
  stages: $('#stages'),
  stageMessage: $('#stage-message'),
  duration: $('#duration'),
  notice: $('#notice'),
  answer: $('#answer'),
  answerText: $('#answer .answer-text'),
  sources: $('#sources'),
  sourcesCount: $('#sources-count'),
  chartCard: $('#chart-card'),
  chartTitle: $('#chart-title'),
  chartUnit: $('#chart-unit'),
  chart: $('#chart'),
  tableCard: $('#table-card'),
  tableTitle: $('#table-title'),
  table: $('#data-table'),
  toolsCard: $('#tools-card'),
  toolCalls: $('#tool-calls'),
  runId: $('#run-id'),
  runAgent: $('#run-agent'),
  runTrace: $('#run-trace'),
  runEvents: $('#run-events'),
  runLastId: $('#run-last-id'),
  runReconnects: $('#run-reconnects'),
  confidence: $('#confidence'),
  confidenceValue: $('#confidence-value'),
  usage: $('#run-usage'),
  edit: $('#edit'),
  regenerate: $('#regenerate'),
};

const typewriter = new Typewriter(ui.answerText);

/** The run on screen. */
let run = null;
/** The conversation the next question continues (from the last run's `start`). */
let threadId = null;
/** The user message the question box replaces (after "edit"): the next ask forks before it. */
let editing = null;
let frame = 0;
let ticker = 0;

function newRun(handle, watching, resuming) {
  return {
    handle,
    watching,
    resuming, // answers a paused run: the stages before the pause are not shown as pending
    state: handle?.state ?? null,
    events: 0,
    reconnects: 0,
    reconnect: null,
    clockOffset: null, // Date.now() - server ts: ticks running stages between events
    stoppedAt: null, // server time the run ended, for the timing of a stage it cut short
    rendered: { sources: null, final: null, toolCalls: null, interrupts: null },
  };
}

// --- starting and stopping ---

async function ask(message) {
  if (run && isActive(run.state)) return;
  await ensureToken();
  const body = { message, agent: ui.agent.value };
  if (threadId) body.conversation_id = threadId;
  if (threadId && editing !== null) {
    // Edit: a fork from where the edited question was taken in (docs/branches.md).
    body.checkpoint_id = await forkPoint(threadId, editing, { headers: authHeaders(), apiPath: API });
  }
  setEditing(null);
  begin((handlers) => stream(`${API}/chat/stream`, body, handlers, { headers: authHeaders(), apiPath: API }), false);
}

/** Edit mode: the next ask replaces user message `index` (null: a new message). */
function setEditing(index) {
  editing = index;
  ui.ask.textContent = index === null ? 'Ask' : 'Send edit';
}

/** The thread's last question and its position (what edit and regenerate work on). */
async function lastQuestion() {
  const messages = await messagesAt(threadId, null, { headers: authHeaders(), apiPath: API });
  const index = messages.findLastIndex((m) => m.role === 'user');
  return index < 0 ? null : { index, text: messages[index].content };
}

/** The question box gets the last question back; sending it forks the conversation there. */
async function editLast() {
  if (!threadId || isActive(run?.state)) return;
  await ensureToken();
  const last = await lastQuestion();
  if (!last) return;
  setEditing(last.index);
  ui.question.value = last.text;
  ui.question.focus();
}

/** The same question again, from the checkpoint before its answer: a new answer, a new branch. */
async function regenerate() {
  if (!threadId || isActive(run?.state)) return;
  await ensureToken();
  const last = await lastQuestion();
  if (!last) return;
  const checkpointId = await forkPoint(threadId, last.index, { headers: authHeaders(), apiPath: API });
  const body = { message: last.text, agent: ui.agent.value, conversation_id: threadId, checkpoint_id: checkpointId };
  setEditing(null);
  begin((handlers) => stream(`${API}/chat/stream`, body, handlers, { headers: authHeaders(), apiPath: API }), false);
}

/** Answers the paused run's question; the run that continues the thread takes the screen. */
function answer(value) {
  const paused = run?.handle;
  if (!paused || run.state?.status !== 'paused') return;
  const earlier = [...(run.carried ?? []), ...run.state.stages];
  begin((handlers) => paused.resume(value, handlers), false, true);
  run.carried = earlier;
}

async function watch(runId) {
  await ensureToken();
  begin((handlers) => watchRun(runId, handlers, { headers: authHeaders(), apiPath: API }), true);
}

function begin(open, watching, resuming = false) {
  resetView();
  const current = newRun(null, watching, resuming);
  run = current;
  const handle = open(handlersFor(current));
  current.handle = handle;
  current.state = handle.state;
  handle.done.catch((err) => console.error('stagecast dashboard:', err));
  ticker = setInterval(() => schedule(), 200);
  schedule();
}

function handlersFor(current) {
  const mine = (fn) => (...args) => {
    if (run === current) fn(...args);
  };
  return {
    onState: mine((state) => {
      current.state = state;
      if (state.error?.error === 'Unauthorized') forgetToken(); // ask again next time
      if (isTerminal(state.status) && current.stoppedAt === null) {
        // When the run ended: the server's `done` time, or now (a cancel ends the stream first).
        current.stoppedAt = state.endedAt ?? serverNow();
        clearInterval(ticker);
      }
      schedule();
    }),
    onEvent: mine((event) => {
      current.events += 1;
      if (Number.isFinite(event.ts)) {
        const offset = Date.now() - event.ts;
        current.clockOffset = current.clockOffset === null ? offset : Math.min(current.clockOffset, offset);
      }
    }),
    onStatus: mine((status, detail) => {
      if (status === 'reconnecting') {
        current.reconnects += 1;
        current.reconnect = detail ?? null;
      } else if (status === 'streaming') {
        current.reconnect = null;
      }
      schedule();
    }),
    onStart: mine((data) => {
      if (!current.watching) setConversation(data.thread_id);
    }),
  };
}

/** The header names the agent picked (it said the default agent whatever was picked). */
function showAgent(agent) {
  const header = document.getElementById('topbar-agent');
  if (header) header.textContent = agent;
}

function setConversation(id) {
  if (id !== threadId) setEditing(null);
  threadId = id;
  ui.conversationId.textContent = id ?? 'new';
  ui.newConversation.hidden = !id;
}

function resetView() {
  clearInterval(ticker);
  typewriter.clear();
  run = null;
  ui.answer.dataset.consistent = '';
  for (const card of [ui.chartCard, ui.tableCard, ui.toolsCard, ui.questionCard]) card.hidden = true;
  replace(ui.interrupts);
  replace(ui.sources, el('li', { class: 'muted empty', text: 'No sources yet.' }));
  ui.sourcesCount.textContent = '';
  replace(ui.chart);
  replace(ui.table);
  replace(ui.toolCalls);
  ui.confidence.hidden = true;
  ui.confidenceValue.textContent = '–';
  ui.usage.textContent = '–';
}

// --- drawing ---

function schedule() {
  if (frame) return;
  // requestAnimationFrame does not run in a hidden tab; the state must still be drawn.
  frame = document.hidden ? setTimeout(draw, 50) : requestAnimationFrame(draw);
}

function draw() {
  frame = 0;
  if (!run?.state) return;
  const { state } = run;
  const active = isActive(state);
  root.dataset.status = state.status;
  ui.status.dataset.status = state.status;
  ui.status.textContent = STATUS_TEXT[state.status] ?? state.status;
  ui.ask.disabled = active;
  ui.cancel.disabled = !active;
  // A finished turn of this tab's conversation can be edited or asked again.
  const settled = !active && !run.watching && Boolean(threadId) && state.status === 'success';
  ui.edit.hidden = ui.regenerate.hidden = !settled;
  drawStages(state, active);
  drawAnswer(state, active);
  drawNotice(state);
  drawDetails(state);
  if (state.sources !== run.rendered.sources) drawSources((run.rendered.sources = state.sources));
  if (state.toolCalls !== run.rendered.toolCalls) drawToolCalls((run.rendered.toolCalls = state.toolCalls));
  if (state.interrupts !== run.rendered.interrupts) drawInterrupts((run.rendered.interrupts = state.interrupts));
  if (state.final !== run.rendered.final) drawFinal((run.rendered.final = state.final));
}

function isActive(state) {
  return state ? ACTIVE.has(state.status) : false;
}

function serverNow() {
  return run?.clockOffset === null || run?.clockOffset === undefined ? null : Date.now() - run.clockOffset;
}

/** The agent picker's stages of `agent`: shown as pending before the run reports them. */
function declaredStages(agent) {
  const option = [...ui.agent.options].find((o) => o.value === agent);
  return option?.dataset.stages ? option.dataset.stages.split(',') : [];
}

/**
 * A stage of the top graph's row: a node of the top graph under its own name. The others
 * (nodes inside subgraphs, and stages a node reports under another name, such as the review
 * agent's policy checks) are nested under the top node they run in.
 */
function isTopStage(stage) {
  return stage.depth === 0 && stage.stage === stage.node;
}

function drawStages(state, active) {
  // A resumed run reports only the stages from the pause on: the paused run's others stay shown.
  const reported = new Set(state.stages.map((s) => s.path[0] ?? s.stage));
  const carried = (run?.carried ?? []).filter((s) => !reported.has(s.path[0] ?? s.stage));
  state = carried.length ? { ...state, stages: [...carried, ...state.stages] } : state;
  const tops = state.stages.filter(isTopStage);
  const seen = new Map(tops.map((stage) => [stage.stage, stage]));
  const pending = run?.resuming || run?.watching ? [] : declaredStages(state.agent ?? ui.agent.value);
  const names = [...pending, ...tops.map((s) => s.stage)].filter((n, i, all) => all.indexOf(n) === i);
  const now = serverNow();
  const timing = (stage, phase) => {
    if (stage?.durationMs !== null && stage?.durationMs !== undefined) return formatMs(stage.durationMs);
    if (stage?.startedAt && phase === 'active' && now) return formatMs(Math.max(0, now - stage.startedAt));
    if (stage?.startedAt && phase === 'stopped' && run?.stoppedAt) return `stopped after ${formatMs(Math.max(0, run.stoppedAt - stage.startedAt))}`;
    return '';
  };
  const icon = (phase, fallback) => (phase === 'done' ? '✓' : phase === 'stopped' ? '✕' : phase === 'waiting' ? '?' : fallback);
  const items = names.map((name, index) => {
    const stage = seen.get(name);
    const phase = stagePhase(stage, state.status, active);
    const step = stage?.step && stage?.total ? ` (${stage.step}/${stage.total})` : '';
    const nested = state.stages.filter((s) => !isTopStage(s) && s.path[0] === name);
    return el(
      'li',
      { class: `stage stage-${phase}`, dataset: { stage: name, state: phase }, title: stage?.message ?? '' },
      el('span', { class: 'stage-icon', attrs: { 'aria-hidden': 'true' }, text: icon(phase, String(index + 1)) }),
      el('span', { class: 'stage-body' },
        el('span', { class: 'stage-name', text: stageLabel(name) }),
        el('span', { class: 'stage-time', text: timing(stage, phase) || (phase === 'pending' ? 'waiting' : '') }),
        el('span', { class: 'stage-detail', text: stage ? `${stage.message ?? ''}${step}` : '' }),
        nested.length ? drawNested(nested, state.status, active, timing, icon) : null),
    );
  });  replace(ui.stages, items);
  const current = [...state.stages].reverse().find((s) => s.status === 'in_progress');
  const last = state.stages[state.stages.length - 1];
  let message = current?.message ?? (state.status === 'connecting' ? 'Connecting…' : last?.message ?? '');
  const cut = [...state.stages].reverse().find((s) => s.status !== 'completed');
  if (state.status === 'paused') {
    message = 'Paused: the agent waits for your answer below.';
  } else if (isTerminal(state.status) && state.status !== 'success') {
    message = `${STATUS_TEXT[state.status] ?? state.status}${cut ? ` during ${stageLabel(cut.stage).toLowerCase()}` : ''}`;
    message = message.charAt(0).toUpperCase() + message.slice(1);
  }
  ui.stageMessage.textContent = message;
  // A paused run has no answer yet: its duration would label an empty Answer card.
  if (state.status === 'paused') ui.duration.textContent = '';
  else if (state.durationMs !== null && state.durationMs !== undefined) ui.duration.textContent = `${formatMs(state.durationMs)} in total`;
  else if (state.startedAt && now && active) ui.duration.textContent = formatMs(now - state.startedAt);
}

/** Stages inside a top stage, indented by their depth, in order of appearance. */
function drawNested(stages, status, active, timing, icon) {
  return el(
    'ol',
    { class: 'substages' },
    stages.map((stage) => {
      const phase = stagePhase(stage, status, active);
      // A subgraph's node by its path below the top node; a named stage ("policy:usage") by its last part.
      const name = stage.stage === stage.node ? stage.path.slice(1).join(' › ') : stage.stage.split(':').pop();
      const step = stage.step && stage.total ? `${stage.step}/${stage.total} ` : '';
      return el(
        'li',
        {
          class: `substage stage-${phase}`,
          dataset: { stage: stage.stage, path: stage.path.join('/'), state: phase },
          title: [stage.message, timing(stage, phase)].filter(Boolean).join(' · '),
          style: { marginLeft: `${Math.max(0, stage.depth - 1) * 14}px` },
        },
        el('span', { class: 'substage-icon', attrs: { 'aria-hidden': 'true' }, text: icon(phase, '•') }),
        el('span', { class: 'substage-name', text: `${step}${stageLabel(name)}` }),
        el('span', { class: 'substage-detail', text: [stage.message, timing(stage, phase)].filter(Boolean).join(' · ') }),
      );
    }),
  );
}

function stagePhase(stage, status, active) {
  if (!stage) return isTerminal(status) && status !== 'success' && status !== 'paused' ? 'skipped' : 'pending';
  if (stage.status === 'completed') return 'done';
  if (status === 'paused') return 'waiting'; // the node that asked: it runs on when answered
  return active ? 'active' : 'stopped';
}

function drawAnswer(state, active) {
  // What was streamed: the tokens as delivered, once each, less those a restart discarded. It
  // must equal final.content.
  const streamed = state.tokens.join('');
  let text = streamed;
  if (state.final) {
    const consistent = streamed === state.final.content;
    ui.answer.dataset.consistent = String(consistent);
    if (!consistent) {
      if (ui.answer.dataset.warned !== 'true') console.warn('stagecast: the streamed text differs from final.content; showing final.content');
      ui.answer.dataset.warned = 'true';
      text = state.final.content;
    }
  }
  const lang = languageOf(text);
  if (lang) ui.answer.lang = lang;
  else ui.answer.removeAttribute('lang');
  typewriter.set(text, { instant: !active });
  let phase = 'empty';
  if (active) phase = 'typing';
  else if (state.status === 'success') phase = 'done';
  else if (isTerminal(state.status)) phase = state.status;
  ui.answer.dataset.state = phase;
}

function drawNotice(state) {
  const notice = noticeOf(state);
  ui.notice.hidden = !notice;
  if (!notice) return;
  ui.notice.className = `notice ${notice.kind}`;
  ui.notice.textContent = notice.text;
}

function noticeOf(state) {
  if (state.status === 'reconnecting') {
    const detail = run.reconnect;
    const why = detail?.error?.message ? ` (${detail.error.message})` : '';
    const when = detail ? ` in ${formatMs(detail.delay)}` : '';
    return { kind: 'warn', text: `Connection lost${why}. Rejoining the run${when}, attempt ${detail?.attempt ?? 1}…` };
  }
  if (state.status === 'cancelled') {
    return { kind: 'warn', text: 'Cancelled. The run was stopped; the answer above is incomplete.' };
  }
  if (state.status === 'timeout') {
    return { kind: 'error', text: `Timed out. ${state.error?.message ?? ''}`.trim() };
  }
  if (state.status === 'error' && state.error) {
    const http = state.error.httpStatus ? ` (HTTP ${state.error.httpStatus})` : '';
    return { kind: 'error', text: `${state.error.error}: ${state.error.message}${http}` };
  }
  if (state.restarted) {
    // The restart event already took the cut-off text out of state.tokens (docs/protocol.md,
    // "The takeover rule"); the answer above types in again from where the lost worker's text began.
    return {
      kind: 'info',
      text: `Resumed on another worker (attempt ${state.attempt}): the run's worker was lost, so the interrupted part of the answer is written again.`,
    };
  }
  if (run.watching && state.status === 'connecting') return { kind: 'info', text: `Joining run ${run.handle?.runId ?? ''}…` };
  return null;
}

function drawDetails(state) {
  const runId = state.runId ?? run.handle?.runId;
  ui.runId.textContent = runId ?? '–';
  ui.runId.href = runId ? `/runs#${encodeURIComponent(runId)}` : '#';
  ui.runAgent.textContent = state.agent ?? '–';
  ui.runTrace.textContent = state.traceId ?? '–';
  ui.runEvents.textContent = String(run.events);
  ui.runLastId.textContent = run.handle?.lastEventId ? `last ${run.handle.lastEventId.split(':').pop()}` : '';
  ui.runReconnects.textContent = String(run.reconnects);
}

function drawSources(sources) {
  ui.sourcesCount.textContent = sources.length ? String(sources.length) : '';
  if (!sources.length) {
    replace(ui.sources, el('li', { class: 'muted empty', text: 'No sources.' }));
    return;
  }
  replace(
    ui.sources,
    sources.map((source) => {
      const kind = source.metadata?.kind ?? (String(source.id).split(':')[0] || 'source');
      const score = Number.isFinite(source.score) ? source.score : null;
      return el(
        'li',
        { class: 'source', dataset: { sourceId: source.id } },
        el('div', { class: 'source-head' },
          el('span', { class: `badge badge-${kind}`, text: kind }),
          el('span', { class: 'source-title', text: source.title, lang: languageOf(source.title) }),
          score === null ? null : el('span', { class: 'source-score', text: score.toFixed(2), title: 'relevance score' })),
        score === null ? null : el('span', { class: 'score-bar' }, el('span', { style: { width: `${Math.round(score * 100)}%` } })),
        el('details', { class: 'source-content' },
          el('summary', { text: 'excerpt' }),
          el('p', { text: source.content, lang: languageOf(source.content) })),
      );
    }),
  );
}

function drawToolCalls(calls) {
  ui.toolsCard.hidden = !calls.length;
  replace(
    ui.toolCalls,
    calls.map((call) =>
      el('li', { class: `tool tool-${call.status}` },
        el('span', { class: 'tool-name mono', text: call.name }),
        el('span', { class: 'pill', dataset: { status: call.status }, text: call.status }),
        el('code', { class: 'tool-args', text: JSON.stringify(call.args) }),
        call.result === undefined || call.result === null ? null : el('code', { class: 'tool-result', text: `→ ${typeof call.result === 'string' ? call.result : JSON.stringify(call.result)}` })),
    ),
  );
}

/**
 * A question in LangChain's human-in-the-loop format (`action_requests` + `review_configs`): its
 * text, the decisions it allows as buttons, and how a button or the text box answers it
 * (`{"decisions": [{"type": ...}]}`; the text box rejects with that message). Null otherwise.
 */
function hitlQuestion(fields) {
  const [action] = Array.isArray(fields.action_requests) ? fields.action_requests : [];
  const [config] = Array.isArray(fields.review_configs) ? fields.review_configs : [];
  if (!action || !config) return null;
  const allowed = Array.isArray(config.allowed_decisions) ? config.allowed_decisions : [];
  return {
    text: fields.question ?? action.description ?? action.name,
    // An edit needs the action's arguments changed: the buttons offer the plain decisions.
    options: allowed.filter((type) => type === 'approve' || type === 'reject'),
    decide: (type) => ({ decisions: [{ type }] }),
    typed: (text) => ({ decisions: [{ type: 'reject', message: text }] }),
    placeholder: allowed.includes('reject') ? 'A reason, to reject with it' : null,
  };
}

/** The questions of a paused run, each with its options as buttons and a free-text answer. */
function drawInterrupts(interrupts) {
  ui.questionCard.hidden = !interrupts.length;
  // Several questions are answered one at a time, by id; one question by its value alone.
  const reply = (item) => (value) => answer(interrupts.length > 1 ? { [item.id]: value } : value);
  replace(
    ui.interrupts,
    interrupts.map((item) => {
      const value = item.value;
      const fields = value && typeof value === 'object' && !Array.isArray(value) ? value : {};
      const hitl = hitlQuestion(fields);
      const question = hitl ? hitl.text : typeof value === 'string' ? value : fields.question ?? JSON.stringify(value);
      const options = hitl ? hitl.options : Array.isArray(fields.options) ? fields.options : [];
      const details = Object.entries(fields).filter(([k, v]) => k !== 'question' && k !== 'options' && typeof v !== 'object');
      const send = reply(item);
      const placeholder = hitl?.placeholder ?? 'Your answer';
      const input = el('input', { class: 'interrupt-input', attrs: { type: 'text', 'aria-label': placeholder, placeholder } });
      const form = el('form', { class: 'interrupt-form' }, input, el('button', { class: 'btn', attrs: { type: 'submit' }, text: hitl ? 'Reject with reason' : 'Send answer' }));
      form.addEventListener('submit', (event) => {
        event.preventDefault();
        const text = input.value.trim();
        if (text) send(hitl ? hitl.typed(text) : text);
      });
      if (hitl && !hitl.placeholder) form.hidden = true;
      return el(
        'div',
        { class: 'interrupt', dataset: { interruptId: item.id } },
        el('p', { class: 'interrupt-question', text: question, lang: languageOf(question) }),
        details.length ? el('p', { class: 'interrupt-details muted', text: details.map(([k, v]) => `${k.replace(/_/g, ' ')}: ${formatValue(v)}`).join(' · ') }) : null,
        options.length
          ? el('div', { class: 'interrupt-options' }, options.map((option) => {
              const button = el('button', { class: 'btn primary', attrs: { type: 'button' }, dataset: { answer: String(option) }, text: stageLabel(String(option)) });
              button.addEventListener('click', () => send(hitl ? hitl.decide(option) : option));
              return button;
            }))
          : null,
        form,
      );
    }),
  );
}

function drawFinal(final) {
  if (!final) return;
  const table = final.table_data;
  ui.tableCard.hidden = !table;
  if (table) {
    ui.tableTitle.textContent = table.title || 'Table';
    const columns = table.columns ?? [];
    const rows = table.rows ?? [];
    const numeric = columns.map((_, i) => rows.length > 0 && rows.every((r) => r[i] === null || typeof r[i] === 'number'));
    replace(
      ui.table,
      el('thead', {}, el('tr', {}, columns.map((c, i) => el('th', { class: numeric[i] ? 'num' : '', text: c })))),
      el('tbody', {}, rows.map((row) => el('tr', {}, row.map((cell, i) => el('td', { class: numeric[i] ? 'num' : '', text: formatValue(cell) }))))),
    );
  }
  const chart = final.chart_data;
  ui.chartCard.hidden = !chart;
  if (chart) {
    ui.chartTitle.textContent = chart.title || 'Chart';
    ui.chartUnit.textContent = chart.unit ? `unit: ${chart.unit}` : '';
    replace(ui.chart, renderChart(chart));
  }
  const confidence = final.confidence_score;
  ui.confidence.hidden = !Number.isFinite(confidence);
  if (Number.isFinite(confidence)) {
    ui.confidence.firstElementChild.style.width = `${Math.round(confidence * 100)}%`;
    ui.confidenceValue.textContent = confidence.toFixed(2);
  }
  const usage = final.usage;
  ui.usage.textContent = usage ? Object.entries(usage).map(([k, v]) => `${k.replace(/_/g, ' ')} ${formatValue(v)}`).join(' · ') : '–';
}

// --- wiring ---

ui.form.addEventListener('submit', (event) => {
  event.preventDefault();
  const message = ui.question.value.trim();
  if (message) ask(message);
});

ui.question.addEventListener('keydown', (event) => {
  // Enter asks; Shift+Enter is a new line. Not while composing Hangul (IME).
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    ui.form.requestSubmit();
  }
});

ui.cancel.addEventListener('click', () => {
  if (run?.handle && isActive(run.state)) run.handle.cancel();
});

ui.newConversation.addEventListener('click', () => setConversation(null));
ui.edit.addEventListener('click', () => editLast().catch((err) => console.error('stagecast dashboard:', err)));
ui.regenerate.addEventListener('click', () => regenerate().catch((err) => console.error('stagecast dashboard:', err)));

ui.agent.addEventListener('change', () => {
  // A conversation belongs to the agent that holds it: another agent starts a new one.
  setConversation(null);
  showAgent(ui.agent.value);
  if (!isActive(run?.state)) drawStages({ ...initialState(), agent: ui.agent.value }, false);
});

for (const chip of document.querySelectorAll('[data-example]')) {
  chip.addEventListener('click', () => {
    if (chip.dataset.agent && chip.dataset.agent !== ui.agent.value) {
      ui.agent.value = chip.dataset.agent;
      ui.agent.dispatchEvent(new Event('change'));
    }
    ui.question.value = chip.dataset.example;
    if (!isActive(run?.state)) ui.form.requestSubmit();
  });
}

document.addEventListener('visibilitychange', () => schedule());

drawStages(initialState(), false); // the picked agent's stages, pending
root.dataset.ready = 'true';
const watched = new URLSearchParams(location.search).get('run');
if (watched) {
  ui.question.value = '';
  ui.question.placeholder = `Watching run ${watched}. Ask something to start a new run.`;
  watch(watched);
}
