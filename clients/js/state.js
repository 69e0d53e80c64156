// The accumulated view of one run, built from its events by a pure reducer. The stream client,
// the React hook and the dashboard all use this one reducer, so they agree on what a run
// looks like. Every update returns a new object (usable with React's useReducer/useState).

/**
 * Statuses after which nothing more happens to a run: those of `done`. A `paused` run is over
 * too; its thread goes on with a new run that answers the question (`resume`).
 */
const TERMINAL = new Set(['success', 'error', 'cancelled', 'timeout', 'paused']);

/**
 * @param {string} status
 * @returns {boolean} whether the status is final (`success`, `error`, `cancelled`, `timeout`, `paused`).
 */
export function isTerminal(status) {
  return TERMINAL.has(status);
}

/** @returns {import('./stagecast.js').StreamState} the state before anything happened. */
export function initialState() {
  return {
    status: 'idle',
    runId: null,
    threadId: null,
    traceId: null,
    agent: null,
    stages: [],
    tokens: [],
    tokenMessageIds: [],
    answer: '',
    sources: [],
    toolCalls: [],
    interrupts: [],
    final: null,
    error: null,
    durationMs: null,
    startedAt: null,
    endedAt: null,
    attempt: 1,
    restarted: false,
    discardedMessageIds: [],
  };
}

/**
 * Applies one action: a wire event (`{type, data, run_id, trace_id, ts}` as parsed from an SSE
 * `data` line) or a client status change (`{type: 'status', status, error?}`). Unknown event
 * types leave the state as it is, so a newer server does not break an older client.
 *
 * @param {import('./stagecast.js').StreamState} state
 * @param {import('./stagecast.js').StreamAction} action
 * @returns {import('./stagecast.js').StreamState}
 */
export function reduce(state, action) {
  if (action.type === 'status') {
    return { ...state, status: action.status, error: action.error ?? state.error };
  }
  const { data, ts } = action;
  const run = state.runId
    ? state
    : { ...state, runId: action.run_id ?? null, traceId: action.trace_id ?? null };
  switch (action.type) {
    case 'start':
      return {
        ...run,
        status: isTerminal(run.status) ? run.status : 'streaming',
        runId: data.run_id,
        threadId: data.thread_id,
        traceId: data.trace_id,
        agent: data.agent,
        startedAt: ts,
      };
    case 'progress':
      return { ...run, stages: updateStages(run.stages, data, ts) };
    case 'sources':
      return { ...run, sources: data };
    case 'token':
      // A token of a message a restart discarded is not part of the answer, whenever it comes.
      if (run.discardedMessageIds.includes(data.message_id)) return run;
      return {
        ...run,
        tokens: [...run.tokens, data.content],
        tokenMessageIds: [...run.tokenMessageIds, data.message_id],
        answer: run.answer + data.content,
      };
    case 'restart':
      return restart(run, data);
    case 'tool_call':
      return { ...run, toolCalls: upsertById(run.toolCalls, data) };
    case 'interrupt':
      // The graph asks a question; the run ends `paused` and resume(value) answers it.
      return { ...run, interrupts: data.interrupts };
    case 'final':
      // final.content is the whole answer (the tokens' concatenation), so it wins.
      return {
        ...run,
        final: data,
        answer: data.content,
        sources: data.sources?.length ? data.sources : run.sources,
      };
    case 'error':
      return { ...run, error: data };
    case 'done':
      return { ...run, status: data.status, durationMs: data.duration_ms, endedAt: ts };
    default:
      return state;
  }
}

/**
 * The run was taken over after its worker was lost (docs/protocol.md, "The takeover rule"): nothing
 * delivered is retracted on the wire, so the client drops the tokens of the discarded message
 * ids itself; the node that was cut off writes again under a new message id. The kept tokens
 * then concatenate to `final.content`.
 */
function restart(state, data) {
  const discarded = [...new Set([...state.discardedMessageIds, ...data.discard_message_ids])];
  const keep = state.tokenMessageIds.map((id) => !discarded.includes(id));
  const tokens = state.tokens.filter((_, i) => keep[i]);
  return {
    ...state,
    attempt: data.attempt,
    restarted: true,
    discardedMessageIds: discarded,
    tokens,
    tokenMessageIds: state.tokenMessageIds.filter((_, i) => keep[i]),
    answer: state.final ? state.answer : tokens.join(''),
  };
}

/**
 * A `progress` event opens a stage (`in_progress`), updates it (more `in_progress` with a
 * message or step/total from inside a node) or closes it (`completed`). A stage that runs
 * again after completing (a graph loop) gets a new entry. Times are the server's `ts` (ms), so
 * a replay after a resume keeps the real timings. A stage inside a subgraph has a longer
 * `path` (the node names from the top graph down) and a `depth` above 0; two stages of the same
 * name in different subgraphs are different stages.
 */
function updateStages(stages, data, ts) {
  const name = data.stage ?? data.node;
  const path = data.path?.length ? data.path : [data.node];
  const parent = path.slice(0, -1).join('/');
  const open = stages.findLastIndex(
    (s) => s.stage === name && s.path.slice(0, -1).join('/') === parent && s.status === 'in_progress',
  );
  const completed = data.status === 'completed';
  if (open === -1) {
    const stage = {
      stage: name,
      node: data.node,
      path,
      depth: path.length - 1,
      status: data.status,
      message: data.message,
      step: data.step ?? null,
      total: data.total ?? null,
      startedAt: completed ? null : ts,
      endedAt: completed ? ts : null,
      durationMs: null,
    };
    return [...stages, stage];
  }
  const prev = stages[open];
  const next = {
    ...prev,
    node: data.node,
    status: data.status,
    message: data.message || prev.message,
    step: data.step ?? prev.step,
    total: data.total ?? prev.total,
  };
  if (completed) {
    next.endedAt = ts;
    next.durationMs = ts - prev.startedAt;
  }
  return stages.map((s, i) => (i === open ? next : s));
}

function upsertById(items, item) {
  const i = items.findIndex((x) => x.id === item.id);
  if (i === -1) return [...items, item];
  return items.map((x, j) => (j === i ? { ...x, ...item } : x));
}
