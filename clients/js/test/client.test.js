// stream() and watchRun() over real HTTP, against a local server replaying recorded runs and
// misbehaving on request (test/helpers/fake-server.js).
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';

import { resume, stream, watchRun } from '../stagecast.js';
import { startFakeServer } from './helpers/fake-server.js';
import { eventsOf, fixture } from './helpers/fixtures.js';

const QUESTION = { message: 'ABC-12345 부품의 재고는?', conversation_id: 'thr_7b21d0e4' };
const KO = eventsOf('ko-inventory');
const ANSWER = KO.find((e) => e.type === 'final').data.content;

const servers = [];
after(() => Promise.all(servers.map((s) => s.close())));

async function serve(name = 'ko-inventory', options = {}) {
  const server = await startFakeServer(fixture(name), options);
  servers.push(server);
  return server;
}

/** Handlers that write down everything they are told. */
function recorder(extra = {}) {
  const seen = { events: [], statuses: [], details: [], tokens: [], errors: [], done: [], byType: {} };
  const typed = (type) => (data, event) => {
    (seen.byType[type] ??= []).push(data);
    assert.equal(event.data, data);
  };
  const handlers = {
    onEvent: (event) => seen.events.push(event),
    onStatus: (status, detail) => {
      seen.statuses.push(status);
      seen.details.push(detail);
    },
    onToken: (data) => seen.tokens.push(data.content),
    onError: (error) => seen.errors.push(error),
    onDone: (data) => seen.done.push(data),
    onStart: typed('start'),
    onProgress: typed('progress'),
    onSources: typed('sources'),
    onToolCall: typed('tool_call'),
    onFinal: typed('final'),
    ...extra,
  };
  return { seen, handlers };
}

/** Fast reconnects for tests; the server's `retry:` is 1 ms unless a test says otherwise. */
const FAST = { retryDelay: 1, maxRetryDelay: 20 };

/** Waits (up to a second) until the server has seen what the client did. */
async function eventually(check) {
  for (let i = 0; i < 100 && !check(); i += 1) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(check());
}

/** Every event of the recording exactly once, in order. */
function assertWholeRun(seen, events = KO) {
  assert.deepEqual(seen.events, events);
  assert.equal(
    seen.tokens.join(''),
    events
      .filter((e) => e.type === 'token')
      .map((e) => e.data.content)
      .join(''),
  );
}

describe('a run from start to done', () => {
  test('every event once, in order, through every handler; done resolves with the state', async () => {
    const server = await serve();
    const { seen, handlers } = recorder();
    const handle = stream(server.url, QUESTION, handlers, { headers: { Authorization: 'Bearer t0ken' } });
    const state = await handle.done;

    assertWholeRun(seen);
    assert.deepEqual(seen.statuses, ['connecting', 'streaming', 'success']);
    assert.equal(seen.byType.start.length, 1);
    assert.equal(seen.byType.progress.length, KO.filter((e) => e.type === 'progress').length);
    assert.equal(seen.byType.sources.length, 1);
    assert.equal(seen.byType.final[0].content, ANSWER);
    assert.deepEqual(seen.done, [{ status: 'success', duration_ms: 1187 }]);
    assert.deepEqual(seen.errors, []);

    assert.equal(state, handle.state);
    assert.equal(state.status, 'success');
    assert.equal(state.answer, ANSWER);
    assert.equal(state.final.table_data.rows.length, 3);
    assert.deepEqual(
      state.stages.map((s) => s.stage),
      ['query_analysis', 'data_retrieval', 'response_generation'],
    );
    assert.equal(handle.runId, server.runId);
    assert.equal(handle.lastEventId, `${server.runId}:${KO.length}`);

    const [post] = server.log.posts;
    assert.equal(server.log.posts.length, 1);
    assert.deepEqual(post.body, QUESTION);
    assert.equal(post.headers['content-type'], 'application/json');
    assert.equal(post.headers.accept, 'text/event-stream');
    assert.equal(post.headers.authorization, 'Bearer t0ken');
    assert.deepEqual(server.log.rejoins, []);
  });

  test('a failed run ends with its error event and status error', async () => {
    const server = await serve('en-tool-error');
    const { seen, handlers } = recorder();
    const state = await stream(server.url, { message: 'XYZ-00042?' }, handlers).done;
    assertWholeRun(seen, eventsOf('en-tool-error'));
    assert.equal(state.status, 'error');
    assert.deepEqual(seen.errors, [state.error]);
    assert.equal(state.error.error, 'UpstreamError');
    assert.equal(seen.byType.tool_call.length, 2);
    assert.deepEqual(seen.statuses, ['connecting', 'streaming', 'error']);
  });

  test('a multi-byte character cut between network chunks arrives whole', async () => {
    const server = await serve('ko-inventory', { plans: [{ chunkBytes: 7 }] });
    const state = await stream(server.url, QUESTION).done;
    assert.equal(state.answer, ANSWER);
    assert.ok(!JSON.stringify(state).includes('\uFFFD'));
  });

  test('no handler runs before stream() returns', async () => {
    const server = await serve();
    let returned = false;
    const handle = stream(server.url, QUESTION, { onStatus: () => assert.ok(returned) });
    returned = true;
    assert.equal((await handle.done).status, 'success');
  });
});

describe('resume after a dropped connection', () => {
  test('cut after k events, for every k: the exact sequence, no duplicates, one POST', async () => {
    for (let k = 0; k < KO.length; k += 1) {
      const server = await serve('ko-inventory', { plans: [{ dropAfter: k }] });
      const { seen, handlers } = recorder();
      const state = await stream(server.url, QUESTION, handlers, FAST).done;
      assertWholeRun(seen);
      assert.equal(state.status, 'success', `k=${k}`);
      assert.equal(state.answer, ANSWER);
      assert.equal(server.log.posts.length, 1);
      // Before any event the run id comes from X-Run-ID, and the rejoin starts at the beginning.
      assert.deepEqual(
        server.log.rejoins.map((r) => r.lastEventId),
        [k === 0 ? undefined : `${server.runId}:${k}`],
        `k=${k}`,
      );
      assert.deepEqual(seen.statuses, ['connecting', 'streaming', 'reconnecting', 'streaming', 'success']);
      await server.close();
    }
  });

  test('a body that ends cleanly before done is a drop too', async () => {
    const server = await serve('ko-inventory', { plans: [{ endAfter: 9 }] });
    const { seen, handlers } = recorder();
    await stream(server.url, QUESTION, handlers, FAST).done;
    assertWholeRun(seen);
    assert.deepEqual(
      server.log.rejoins.map((r) => r.lastEventId),
      [`${server.runId}:9`],
    );
  });

  test('several drops in one run', async () => {
    const server = await serve('ko-inventory', {
      plans: [{ dropAfter: 5 }, { dropAfter: 3 }, { endAfter: 10 }, {}],
    });
    const { seen, handlers } = recorder();
    await stream(server.url, QUESTION, handlers, FAST).done;
    assertWholeRun(seen);
    assert.deepEqual(
      server.log.rejoins.map((r) => r.lastEventId),
      [5, 8, 18].map((seq) => `${server.runId}:${seq}`),
    );
  });

  test('events a rejoin repeats are delivered once', async () => {
    const server = await serve('ko-inventory', { plans: [{ dropAfter: 20 }, { replay: 6 }] });
    const { seen, handlers } = recorder();
    const state = await stream(server.url, QUESTION, handlers, FAST).done;
    assertWholeRun(seen);
    assert.equal(state.tokens.join(''), ANSWER);
  });

  test("the server's retry: sets the reconnection delay", async () => {
    const server = await serve('ko-inventory', { retryMs: 200, plans: [{ dropAfter: 3 }] });
    await stream(server.url, QUESTION, {}, { retryDelay: 5000 }).done;
    const waited = server.log.rejoins[0].at - server.log.drops[0];
    assert.ok(waited >= 200, `waited ${waited} ms`);
    assert.ok(waited < 1000, `waited ${waited} ms`);
  });

  test('onStatus reports each reconnect attempt with its delay', async () => {
    const server = await serve('ko-inventory', { plans: [{ dropAfter: 4 }, { dropAfter: 0 }, {}] });
    const { seen, handlers } = recorder();
    await stream(server.url, QUESTION, handlers, FAST).done;
    const attempts = seen.details.filter(Boolean);
    assert.deepEqual(
      attempts.map((d) => [d.attempt, d.error.error]),
      [
        [1, 'NetworkError'],
        [2, 'NetworkError'],
      ],
    );
    assert.ok(attempts.every((d) => d.delay >= 1));
    assertWholeRun(seen);
  });

  test('gives up after maxRetries attempts without progress', async () => {
    const plans = [{ dropAfter: 2 }, { dropAfter: 0 }, { dropAfter: 0 }, { dropAfter: 0 }, {}];
    const server = await serve('ko-inventory', { plans });
    const { seen, handlers } = recorder();
    const state = await stream(server.url, QUESTION, handlers, { ...FAST, maxRetries: 3 }).done;
    assert.equal(server.log.rejoins.length, 3);
    assert.equal(state.status, 'error');
    assert.equal(state.error.error, 'NetworkError');
    assert.deepEqual(seen.errors, [state.error]);
    assert.equal(seen.events.length, 2);
  });

  test('204 on a rejoin: the run is over (final seen: success)', async () => {
    const server = await serve('ko-inventory', { plans: [{ dropAfter: KO.length - 1 }, { status: 204 }] });
    const { seen, handlers } = recorder();
    const state = await stream(server.url, QUESTION, handlers, FAST).done;
    assert.equal(state.status, 'success');
    assert.equal(state.answer, ANSWER);
    assert.equal(server.log.rejoins.length, 1);
    assert.deepEqual(seen.errors, []);
    assert.deepEqual(seen.done, []);
  });

  test('204 on a rejoin after an error event: status from the error', async () => {
    const events = eventsOf('en-tool-error');
    const server = await serve('en-tool-error', {
      plans: [{ dropAfter: events.length - 1 }, { status: 204 }],
    });
    const state = await stream(server.url, QUESTION, {}, FAST).done;
    assert.equal(state.status, 'error');
    assert.equal(state.error.error, 'UpstreamError');
  });

  test('404 on a rejoin ends the run: nothing to resume', async () => {
    const server = await serve('ko-inventory', { plans: [{ dropAfter: 3 }, { status: 404 }] });
    const state = await stream(server.url, QUESTION, {}, FAST).done;
    assert.equal(state.status, 'error');
    assert.deepEqual(state.error, { error: 'RunNotFound', message: 'RunNotFound (test)', httpStatus: 404 });
    assert.equal(server.log.rejoins.length, 1);
  });

  test('503 with Retry-After on a rejoin is retried', async () => {
    const server = await serve('ko-inventory', { plans: [{ dropAfter: 3 }, { status: 503 }, {}] });
    const { seen, handlers } = recorder();
    const state = await stream(server.url, QUESTION, handlers, FAST).done;
    assert.equal(state.status, 'success');
    assert.equal(server.log.rejoins.length, 2);
    assertWholeRun(seen);
  });

  test('no run id (the connection failed before the response): error, and the question is not re-sent', async () => {
    const server = await serve();
    const url = server.url;
    await server.close();
    const { seen, handlers } = recorder();
    const state = await stream(url, QUESTION, handlers, FAST).done;
    assert.equal(state.status, 'error');
    assert.equal(state.error.error, 'NetworkError');
    assert.deepEqual(seen.statuses, ['connecting', 'error']);
  });
});

describe('cancel and abort', () => {
  test('cancel() aborts the stream and calls the cancel endpoint', async () => {
    const server = await serve('ko-inventory', { paceMs: 5 });
    let cancelled;
    const { seen, handlers } = recorder({
      onToken: () => {
        cancelled ??= handle.cancel();
      },
    });
    const handle = stream(server.url, QUESTION, handlers, { headers: { Authorization: 'Bearer t0ken' } });
    const state = await handle.done;
    assert.equal(await cancelled, true);
    assert.equal(state.status, 'cancelled');
    assert.equal(state.error.error, 'Cancelled');
    assert.deepEqual(seen.errors, [state.error]);
    assert.deepEqual(seen.done, []);
    assert.equal(seen.statuses.at(-1), 'cancelled');
    assert.equal(server.log.cancels.length, 1);
    assert.equal(server.log.cancels[0].runId, server.runId);
    assert.equal(server.log.cancels[0].headers.authorization, 'Bearer t0ken');
    await eventually(() => server.log.closedEarly === 1);
    assert.ok(seen.events.length < KO.length);
  });

  test('cancel() before the request left: nothing is sent', async () => {
    const server = await serve();
    const handle = stream(server.url, QUESTION);
    assert.equal(await handle.cancel(), false);
    assert.equal((await handle.done).status, 'cancelled');
    assert.deepEqual(server.log.posts, []);
  });

  test('an already aborted signal: nothing is sent', async () => {
    const server = await serve();
    const state = await stream(server.url, QUESTION, {}, { signal: AbortSignal.abort() }).done;
    assert.equal(state.status, 'cancelled');
    assert.deepEqual(server.log.posts, []);
  });

  test('cancel() after the run is over does nothing', async () => {
    const server = await serve();
    const handle = stream(server.url, QUESTION);
    await handle.done;
    assert.equal(await handle.cancel(), false);
    assert.deepEqual(server.log.cancels, []);
    assert.equal(handle.state.status, 'success');
  });

  test('abort() stops following without cancelling the run', async () => {
    const server = await serve('ko-inventory', { paceMs: 5 });
    const handle = stream(server.url, QUESTION, { onSources: () => handle.abort() });
    const state = await handle.done;
    assert.equal(state.status, 'cancelled');
    assert.deepEqual(server.log.cancels, []);
    await eventually(() => server.log.closedEarly === 1);
  });

  test('options.signal aborts like abort()', async () => {
    const server = await serve('ko-inventory', { paceMs: 5 });
    const controller = new AbortController();
    const handle = stream(
      server.url,
      QUESTION,
      { onStart: () => controller.abort() },
      { signal: controller.signal },
    );
    assert.equal((await handle.done).status, 'cancelled');
    assert.deepEqual(server.log.cancels, []);
  });

  test('a handler that throws stops the stream and rejects done with its error', async () => {
    const server = await serve('ko-inventory', { paceMs: 2 });
    const bug = new Error('bug in onProgress');
    const handle = stream(server.url, QUESTION, {
      onProgress: () => {
        throw bug;
      },
    });
    await assert.rejects(handle.done, bug);
    assert.equal(handle.state.status, 'error');
    assert.equal(handle.state.error.error, 'HandlerError');
    await eventually(() => server.log.closedEarly === 1);
  });
});

describe('timeouts', () => {
  test('the overall timeout ends the run and cancels it on the server', async () => {
    const server = await serve('ko-inventory', { plans: [{ stallAfter: 2, heartbeatMs: 10 }] });
    const { seen, handlers } = recorder();
    const started = Date.now();
    const state = await stream(server.url, QUESTION, handlers, { timeout: 150 }).done;
    const took = Date.now() - started;
    assert.ok(took >= 150 && took < 1500, `took ${took} ms`);
    assert.equal(state.status, 'timeout');
    assert.equal(state.error.error, 'Timeout');
    assert.deepEqual(seen.errors, [state.error]);
    assert.deepEqual(
      server.log.cancels.map((c) => c.runId),
      [server.runId],
    );
  });

  test('no bytes for idleTimeout: the connection is dropped and the run resumed', async () => {
    const server = await serve('ko-inventory', { plans: [{ stallAfter: 3 }] });
    const { seen, handlers } = recorder();
    const state = await stream(server.url, QUESTION, handlers, { ...FAST, idleTimeout: 100 }).done;
    assert.equal(state.status, 'success');
    assertWholeRun(seen);
    assert.deepEqual(
      server.log.rejoins.map((r) => r.lastEventId),
      [`${server.runId}:3`],
    );
    assert.equal(seen.details.find(Boolean).error.error, 'Timeout');
  });

  test('heartbeats count as bytes: a quiet stream with heartbeats is not idle', async () => {
    const server = await serve('ko-inventory', { plans: [{ pauseAfter: 3, pauseMs: 350, heartbeatMs: 20 }] });
    const state = await stream(server.url, QUESTION, {}, { ...FAST, idleTimeout: 100 }).done;
    assert.equal(state.status, 'success');
    assert.deepEqual(server.log.rejoins, []);
  });

  test('idle on every attempt: status timeout once the retries are spent', async () => {
    const server = await serve('ko-inventory', {
      plans: [{ stallAfter: 1 }, { stallAfter: 0 }, { stallAfter: 0 }],
    });
    const state = await stream(server.url, QUESTION, {}, { ...FAST, idleTimeout: 50, maxRetries: 2 }).done;
    assert.equal(state.status, 'timeout');
    assert.equal(state.error.error, 'Timeout');
    assert.equal(server.log.rejoins.length, 2);
  });
});

describe('answers that are not a stream', () => {
  test('an HTTP error before streaming is the run error, and is not retried', async () => {
    const server = await serve('ko-inventory', { plans: [{ status: 429 }] });
    const { seen, handlers } = recorder();
    const state = await stream(server.url, QUESTION, handlers, FAST).done;
    assert.equal(state.status, 'error');
    assert.deepEqual(state.error, { error: 'TooManyRuns', message: 'TooManyRuns (test)', httpStatus: 429 });
    assert.deepEqual(seen.errors, [state.error]);
    assert.equal(server.log.posts.length, 1);
    assert.deepEqual(server.log.rejoins, []);
  });

  test('a 200 that is not text/event-stream fails the connection', async () => {
    const fetch = async () =>
      new Response('<html>login</html>', { headers: { 'Content-Type': 'text/html' } });
    const state = await stream('/api/chat/stream', QUESTION, {}, { fetch }).done;
    assert.equal(state.status, 'error');
    assert.equal(state.error.error, 'ProtocolError');
  });

  test('an event whose data is not JSON is a protocol error', async () => {
    const fetch = async () =>
      new Response('id: r:1\ndata: not json\n\n', {
        headers: { 'Content-Type': 'text/event-stream', 'X-Run-ID': 'r' },
      });
    const state = await stream('/api/chat/stream', QUESTION, {}, { fetch }).done;
    assert.equal(state.error.error, 'ProtocolError');
  });

  test('resume and cancel URLs derive from the stream URL; baseUrl is needed otherwise', async () => {
    const urls = [];
    const fetch = async (url, init) => {
      urls.push(`${init.method} ${url}`);
      if (init.method === 'POST' && url.endsWith('/cancel')) return new Response(null, { status: 202 });
      return new Response(
        'retry: 1\n\nid: run_1:1\ndata: {"type":"token","data":{"content":"a"},"run_id":"run_1"}\n\n',
        {
          headers: { 'Content-Type': 'text/event-stream' },
        },
      );
    };
    const handle = stream(
      'https://example.test/prefix/api/chat/stream',
      QUESTION,
      { onToken: () => handle.cancel() },
      { fetch },
    );
    await handle.done;
    assert.deepEqual(urls, [
      'POST https://example.test/prefix/api/chat/stream',
      'POST https://example.test/prefix/api/runs/run_1/cancel',
    ]);
    assert.throws(() => stream('/chat', QUESTION), TypeError);
  });

  test('apiPath: the routes of a Flask extension mounted at another prefix', async () => {
    const urls = [];
    const fetch = async (url, init) => {
      urls.push(`${init.method} ${url}`);
      if (init.method === 'POST' && url.endsWith('/cancel')) return new Response(null, { status: 202 });
      return new Response(
        'retry: 1\n\nid: run_1:1\ndata: {"type":"token","data":{"content":"a"},"run_id":"run_1"}\n\n',
        { headers: { 'Content-Type': 'text/event-stream' } },
      );
    };
    const handle = stream('/ai/chat/stream', QUESTION, { onToken: () => handle.cancel() }, { fetch, apiPath: '/ai' });
    await handle.done;
    assert.deepEqual(urls, ['POST /ai/chat/stream', 'POST /ai/runs/run_1/cancel']);
    assert.throws(() => stream('/ai/chat/stream', QUESTION), TypeError);
  });
});

describe('a run resumed on another worker (a restart event)', () => {
  const RESTARTED = eventsOf('ko-restart');
  const at = RESTARTED.findIndex((e) => e.type === 'restart');
  const FINAL = RESTARTED.find((e) => e.type === 'final').data.content;

  test('the answer is final.content, and onRestart is told once', async () => {
    const server = await serve('ko-restart');
    const restarts = [];
    const answers = [];
    const { seen, handlers } = recorder({
      onRestart: (data) => restarts.push(data),
      onFinal: () => answers.push(handle.state.answer),
    });
    const handle = stream(server.url, QUESTION, handlers);
    const state = await handle.done;
    assert.deepEqual(seen.events, RESTARTED);
    assert.deepEqual(restarts, [RESTARTED[at].data]);
    // Before final replaces it, the streamed answer already equals final.content.
    assert.deepEqual(answers, [FINAL]);
    assert.equal(state.answer, FINAL);
    assert.deepEqual([state.status, state.attempt, state.restarted], ['success', 2, true]);
  });

  test('a client reconnecting across the restart: cut just before, at and after it', async () => {
    for (const k of [at - 1, at, at + 1, at + 2]) {
      const server = await serve('ko-restart', { plans: [{ dropAfter: k }] });
      const answers = [];
      const { seen, handlers } = recorder({ onFinal: () => answers.push(handle.state.tokens.join('')) });
      const handle = stream(server.url, QUESTION, handlers, FAST);
      const state = await handle.done;
      assert.deepEqual(seen.events, RESTARTED, `k=${k}`);
      assert.deepEqual(
        server.log.rejoins.map((r) => r.lastEventId),
        [`${server.runId}:${k}`],
      );
      assert.deepEqual(answers, [FINAL], `k=${k}`);
      assert.deepEqual([state.status, state.answer, state.attempt], ['success', FINAL, 2], `k=${k}`);
      await server.close();
    }
  });

  test('a watcher joining after the restart replays it from the first event', async () => {
    const server = await serve('ko-restart');
    const state = await watchRun(server.runId, {}, { baseUrl: server.origin }).done;
    assert.deepEqual([state.answer, state.attempt, state.restarted], [FINAL, 2, true]);
  });
});

describe('watchRun', () => {
  test('joins a run from its first event', async () => {
    const server = await serve();
    const { seen, handlers } = recorder();
    const state = await watchRun(server.runId, handlers, { baseUrl: server.origin }).done;
    assertWholeRun(seen);
    assert.equal(state.status, 'success');
    assert.deepEqual(
      server.log.rejoins.map((r) => r.lastEventId),
      [undefined],
    );
    assert.deepEqual(server.log.posts, []);
  });

  test("its timeout does not cancel the run: it is not the watcher's", async () => {
    const server = await serve('ko-inventory', { plans: [{ stallAfter: 2 }] });
    const state = await watchRun(server.runId, {}, { baseUrl: server.origin, timeout: 100 }).done;
    assert.equal(state.status, 'timeout');
    assert.deepEqual(server.log.cancels, []);
  });
});

describe('a paused run (interrupt) and resume()', () => {
  const PAUSED = eventsOf('en-review-paused');
  const RESUMED = eventsOf('en-review-resumed');

  test('the run ends paused with its questions; resume(value) answers them on the same thread', async () => {
    const server = await startFakeServer(fixture('en-review-paused'), { resumed: fixture('en-review-resumed') });
    servers.push(server);
    const asked = [];
    const { seen, handlers } = recorder({ onInterrupt: (data) => asked.push(data) });
    const handle = stream(server.url, { message: 'Request 120 x ABC-12345', agent: 'review' }, handlers, FAST);
    const state = await handle.done;
    assert.equal(state.status, 'paused');
    assert.deepEqual(seen.events, PAUSED);
    const { interrupts } = PAUSED.find((e) => e.type === 'interrupt').data;
    assert.deepEqual(asked, [{ interrupts }]);
    assert.deepEqual(handle.interrupts, interrupts);
    assert.equal(state.final, null);
    assert.deepEqual(seen.errors, []);

    const next = handle.resume('approve');
    const after = await next.done;
    assert.deepEqual(server.log.posts.at(-1).body, { conversation_id: 'thr_review_01', resume: 'approve' });
    assert.equal(after.status, 'success');
    assert.deepEqual(after.interrupts, []);
    assert.equal(after.answer, RESUMED.find((e) => e.type === 'final').data.content);
    assert.equal(server.log.posts.length, 2);
  });

  test('resume() on a run that did not pause throws', async () => {
    const server = await serve();
    const handle = stream(server.url, QUESTION, {}, FAST);
    await handle.done;
    assert.throws(() => handle.resume('yes'), /ended paused/);
  });

  test('resume(url, thread, value) posts the answer', async () => {
    const server = await startFakeServer(fixture('en-review-paused'), { resumed: fixture('en-review-resumed') });
    servers.push(server);
    const state = await resume(server.url, 'thr_review_01', { approved: true }, {}, FAST).done;
    assert.deepEqual(server.log.posts[0].body, { conversation_id: 'thr_review_01', resume: { approved: true } });
    assert.equal(state.status, 'success');
  });
});
