// The shared reducer: recorded runs in, the accumulated state out.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { initialState, isTerminal, reduce } from '../state.js';
import { eventsOf } from './helpers/fixtures.js';

const run = (events, state = initialState()) => events.reduce(reduce, state);

describe('a successful run (ko-inventory)', () => {
  const events = eventsOf('ko-inventory');
  const state = run(events);
  const final = events.find((e) => e.type === 'final').data;

  test('identity, status and duration', () => {
    assert.equal(state.status, 'success');
    assert.equal(state.runId, 'run_5f0c9a3e');
    assert.equal(state.threadId, 'thr_7b21d0e4');
    assert.equal(state.traceId, 'a3f1c2d4e5b6978812345678abcdef01');
    assert.equal(state.agent, 'chat');
    assert.equal(state.durationMs, 1187);
    assert.equal(state.startedAt, events[0].ts);
    assert.equal(state.endedAt, events.at(-1).ts);
    assert.equal(state.error, null);
  });

  test('stages in order, with the server-side timings', () => {
    assert.deepEqual(
      state.stages.map((s) => [s.stage, s.status, s.durationMs]),
      [
        ['query_analysis', 'completed', 31],
        ['data_retrieval', 'completed', 79],
        ['response_generation', 'completed', state.stages[2].endedAt - state.stages[2].startedAt],
      ],
    );
    const retrieval = state.stages[1];
    assert.equal(retrieval.step, 2);
    assert.equal(retrieval.total, 2);
    assert.equal(retrieval.message, '기록 3건, 문서 1건');
  });

  test('answer, tokens, sources and final', () => {
    const tokens = events.filter((e) => e.type === 'token').map((e) => e.data.content);
    assert.deepEqual(state.tokens, tokens);
    assert.equal(tokens.join(''), final.content);
    assert.equal(state.answer, final.content);
    assert.deepEqual(state.sources, final.sources);
    assert.deepEqual(state.final.table_data.columns, ['창고', '수량', '안전 재고']);
    assert.equal(state.final.chart_data.series[0].values.length, 3);
    assert.equal(state.final.confidence_score, 0.92);
  });

  test('while streaming, the answer is the tokens so far and the stage is open', () => {
    const firstToken = events.findIndex((e) => e.type === 'token');
    const mid = run(events.slice(0, firstToken + 3));
    assert.equal(mid.status, 'streaming');
    assert.equal(mid.answer, mid.tokens.join(''));
    assert.equal(mid.tokens.length, 3);
    assert.deepEqual(mid.stages.at(-1).status, 'in_progress');
    assert.equal(mid.stages.at(-1).durationMs, null);
    assert.equal(mid.final, null);
  });
});

describe('a failed run with a tool call (en-tool-error)', () => {
  const state = run(eventsOf('en-tool-error'));

  test('error, status, partial answer', () => {
    assert.equal(state.status, 'error');
    assert.deepEqual(state.error, {
      error: 'UpstreamError',
      message: 'The language model service failed. Trace a3: see logs.',
    });
    assert.equal(state.answer, 'There are 12 units');
    assert.equal(state.final, null);
  });

  test('one tool call, updated in place from started to completed', () => {
    assert.deepEqual(state.toolCalls, [
      {
        id: 'call_1',
        name: 'lookup_stock',
        args: { part_number: 'XYZ-00042' },
        status: 'completed',
        result: { total: 12 },
      },
    ]);
  });

  test('a stage still open when the run failed stays in_progress', () => {
    assert.deepEqual(
      state.stages.map((s) => [s.stage, s.status]),
      [['agent', 'in_progress']],
    );
  });
});

describe('a run taken over after its worker was lost (ko-restart)', () => {
  // Recorded: the worker was killed mid-answer; another host took the run over (attempt 2),
  // discarded the cut-off message and wrote the answer again under a new message id.
  const events = eventsOf('ko-restart');
  const at = events.findIndex((e) => e.type === 'restart');
  const { discard_message_ids: discarded } = events[at].data;
  const final = events.find((e) => e.type === 'final').data;
  const streamed = (upTo) => run(events.slice(0, upTo).filter((e) => e.type !== 'final'));

  test('the recording: every token concatenated is not the answer, the kept ones are', () => {
    const tokens = events.filter((e) => e.type === 'token');
    assert.notEqual(tokens.map((e) => e.data.content).join(''), final.content);
    assert.equal(
      tokens
        .filter((e) => !discarded.includes(e.data.message_id))
        .map((e) => e.data.content)
        .join(''),
      final.content,
    );
  });

  test('before final, the answer is the kept tokens: equal to final.content', () => {
    const state = streamed(events.length);
    assert.equal(state.answer, final.content);
    assert.equal(state.tokens.join(''), final.content);
    assert.ok(state.tokenMessageIds.every((id) => !discarded.includes(id)));
    assert.equal(state.tokens.length, state.tokenMessageIds.length);
  });

  test('the restart drops the partial answer at once and says which attempt this is', () => {
    const before = run(events.slice(0, at));
    assert.ok(before.answer.length > 0);
    assert.deepEqual([before.attempt, before.restarted], [1, false]);
    const after = reduce(before, events[at]);
    assert.equal(after.answer, '');
    assert.deepEqual(after.tokens, []);
    assert.deepEqual([after.attempt, after.restarted, after.status], [2, true, 'streaming']);
    assert.deepEqual(after.discardedMessageIds, discarded);
  });

  test('the whole run: success, one answer stage, the answer is final.content', () => {
    const state = run(events);
    assert.equal(state.status, 'success');
    assert.equal(state.answer, final.content);
    assert.equal(state.attempt, 2);
    assert.deepEqual(
      state.stages.map((s) => [s.stage, s.status]),
      [
        ['query_analysis', 'completed'],
        ['data_retrieval', 'completed'],
        ['response_generation', 'completed'],
      ],
    );
  });

  test('a token of a discarded message that comes after the restart is dropped too', () => {
    const late = events.slice(0, at).findLast((e) => e.type === 'token');
    const state = reduce(run(events.slice(0, at + 1)), late);
    assert.equal(state.answer, '');
  });

  test('tokens of messages not discarded stay, in order', () => {
    const envelope = { run_id: 'r', trace_id: 't', ts: 1 };
    const token = (content, message_id) => ({ type: 'token', data: { content, node: 'n', message_id }, ...envelope });
    const state = run([
      token('kept ', 'a'),
      token('cut', 'b'),
      token('also kept', 'c'),
      { type: 'restart', data: { attempt: 3, reason: 'WorkerLost', discard_message_ids: ['b'] }, ...envelope },
      token(' more', 'd'),
    ]);
    assert.equal(state.answer, 'kept also kept more');
    assert.deepEqual(state.tokenMessageIds, ['a', 'c', 'd']);
    assert.equal(state.attempt, 3);
  });
});

describe('reduce', () => {
  const progress = (stage, status, ts) => ({
    type: 'progress',
    data: { node: stage, stage, status, message: '' },
    run_id: 'r',
    trace_id: 't',
    ts,
  });

  test('never mutates its input', () => {
    const events = eventsOf('ko-inventory');
    let state = initialState();
    for (const event of events) {
      const before = structuredClone(state);
      const next = reduce(state, event);
      assert.deepEqual(state, before);
      state = next;
    }
  });

  test('a client status action sets the status and, when given, the error', () => {
    const reconnecting = reduce(initialState(), { type: 'status', status: 'reconnecting' });
    assert.equal(reconnecting.status, 'reconnecting');
    assert.equal(reconnecting.error, null);
    const cancelled = reduce(reconnecting, {
      type: 'status',
      status: 'cancelled',
      error: { error: 'Cancelled', message: 'by you' },
    });
    assert.deepEqual(cancelled.error, { error: 'Cancelled', message: 'by you' });
    assert.ok(isTerminal(cancelled.status));
    assert.ok(!isTerminal('streaming'));
  });

  test('an unknown event type leaves the state unchanged (the same object)', () => {
    const state = run(eventsOf('ko-inventory').slice(0, 2));
    assert.equal(reduce(state, { type: 'a_future_event', data: {}, run_id: 'r', trace_id: 't', ts: 1 }), state);
  });

  test('the run id comes from the envelope when start was not seen', () => {
    const state = reduce(initialState(), progress('a', 'in_progress', 5));
    assert.equal(state.runId, 'r');
    assert.equal(state.traceId, 't');
  });

  test('a stage that runs again after completing gets a new entry', () => {
    const state = run([
      progress('plan', 'in_progress', 0),
      progress('plan', 'completed', 10),
      progress('plan', 'in_progress', 20),
      progress('plan', 'completed', 35),
    ]);
    assert.deepEqual(
      state.stages.map((s) => [s.startedAt, s.endedAt, s.durationMs]),
      [
        [0, 10, 10],
        [20, 35, 15],
      ],
    );
  });

  test('a completed stage never seen starting has an end and no duration', () => {
    const [stage] = run([progress('late', 'completed', 50)]).stages;
    assert.deepEqual(
      [stage.startedAt, stage.endedAt, stage.durationMs, stage.status],
      [null, 50, null, 'completed'],
    );
  });

  test('final without sources keeps the sources event', () => {
    const sources = [{ id: 's1', title: 'T', content: 'C', metadata: {}, score: 1 }];
    const envelope = { run_id: 'r', trace_id: 't', ts: 1 };
    const state = run([
      { type: 'sources', data: sources, ...envelope },
      {
        type: 'final',
        data: {
          content: 'ok',
          sources: [],
          confidence_score: null,
          table_data: null,
          chart_data: null,
          usage: null,
        },
        ...envelope,
      },
    ]);
    assert.deepEqual(state.sources, sources);
    assert.equal(state.answer, 'ok');
  });
});

describe('a paused run (en-review-paused) and nested stages', () => {
  test('interrupt: the questions are kept and the run is paused (terminal)', () => {
    const events = eventsOf('en-review-paused');
    const state = run(events);
    assert.equal(state.status, 'paused');
    assert.ok(isTerminal('paused'));
    assert.deepEqual(state.interrupts, events.find((e) => e.type === 'interrupt').data.interrupts);
    assert.equal(state.final, null);
    const approval = state.stages.find((s) => s.stage === 'approval');
    assert.equal(approval.status, 'in_progress'); // the node waits for the answer: it did not complete
    const checks = state.stages.filter((s) => s.stage.startsWith('policy:'));
    assert.deepEqual(checks.map((s) => s.step).sort(), [1, 2, 3, 4, 5]);
    assert.ok(checks.every((s) => s.status === 'completed' && s.total === 5));
  });

  test('a stage inside a subgraph has its path and depth, apart from a same-named top stage', () => {
    const progress = (path, status) => ({
      type: 'progress',
      ts: 1,
      data: { node: path.at(-1), stage: path.at(-1), status, message: '', path },
    });
    const state = run([
      progress(['search'], 'in_progress'),
      progress(['research'], 'in_progress'),
      progress(['research', 'search'], 'in_progress'),
      progress(['research', 'search'], 'completed'),
      progress(['research'], 'completed'),
    ]);
    assert.deepEqual(
      state.stages.map((s) => [s.path.join('/'), s.depth, s.status]),
      [
        ['search', 0, 'in_progress'],
        ['research', 0, 'completed'],
        ['research/search', 1, 'completed'],
      ],
    );
  });

  test('an event without path (an older server) is a top-level stage', () => {
    const state = run([{ type: 'progress', ts: 1, data: { node: 'a', stage: 'a', status: 'in_progress', message: '' } }]);
    assert.deepEqual(state.stages[0].path, ['a']);
    assert.equal(state.stages[0].depth, 0);
  });
});
