// branches.js: edit, regenerate and branch listing over a stubbed fetch that answers the
// thread endpoints as the server does (the real server path is covered by the dashboard's
// Chromium test and tests/test_branches.py).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { branches, edit, forkPoint, history, messagesAt, regenerate } from '../branches.js';

// Two turns, then an edit of the first question: c1..c8 on the first branch, e1..e3 on the edit.
const CHECKPOINTS = [
  ['e3', 'e2', [], 2],
  ['e2', 'e1', ['response'], 1],
  ['e1', 'c1', ['__start__'], 0],
  ['c8', 'c7', [], 4],
  ['c7', 'c6', ['response'], 3],
  ['c6', 'c5', ['__start__'], 2],
  ['c5', 'c4', [], 2],
  ['c4', 'c3', ['response'], 1],
  ['c3', 'c1', ['answer'], 1],
  ['c1', null, ['__start__'], 0],
].map(([id, parent, next, count]) => ({
  checkpoint_id: id,
  parent_checkpoint_id: parent,
  created_at: `2026-12-06T03:00:${String(99 - id.charCodeAt(1)).padStart(2, '0')}`,
  run_id: 'r',
  message_count: count,
  next,
  interrupts: [],
}));

function stubFetch(calls) {
  return async (url, init = {}) => {
    calls.push({ url, init });
    const { pathname, searchParams } = new URL(url, 'http://stagecast.test');
    let body;
    if (pathname.endsWith('/history')) {
      const before = searchParams.get('before');
      const from = before ? CHECKPOINTS.findIndex((c) => c.checkpoint_id === before) + 1 : 0;
      body = { thread_id: 't1', checkpoints: CHECKPOINTS.slice(from, from + Number(searchParams.get('limit'))) };
    } else if (pathname.endsWith('/messages')) {
      body = {
        thread_id: 't1',
        messages: [
          { id: 'h', role: 'user', content: 'edited question' },
          { id: 'a', role: 'assistant', content: 'answer' },
        ],
      };
    } else {
      // The run request: an SSE body with a run that ends at once.
      const events = [
        { type: 'start', data: { run_id: 'r2', thread_id: 't1', trace_id: 'x', agent: 'chat' } },
        { type: 'final', data: { content: 'again' } },
        { type: 'done', data: { status: 'success', duration_ms: 1 } },
      ].map((e, i) => `id: r2:${i + 1}\ndata: ${JSON.stringify({ ...e, run_id: 'r2', seq: i + 1, ts: 1 })}\n\n`);
      return new Response(events.join(''), { headers: { 'Content-Type': 'text/event-stream' } });
    }
    return Response.json(body);
  };
}

describe('branches', () => {
  test('history, branches and fork points follow the checkpoint tree', async () => {
    const calls = [];
    const options = { fetch: stubFetch(calls), baseUrl: 'http://h', headers: { Authorization: 'Bearer k' } };
    assert.equal((await history('t1', options)).length, 10);
    assert.equal(calls[0].url, 'http://h/api/threads/t1/history?limit=200');
    assert.equal(calls[0].init.headers.Authorization, 'Bearer k');
    const found = await branches('t1', options);
    // Tips only (c5 is continued by c6), oldest first; the thread continues the edit's.
    assert.deepEqual(
      found.map((b) => [b.checkpointId, b.messageCount, b.current]),
      [
        ['c8', 4, false],
        ['e3', 2, true],
      ],
    );
    // The current branch's message 0 was taken in at e1; the old branch's at c1, its message 2 at c6.
    assert.equal(await forkPoint('t1', 0, options), 'e1');
    assert.equal(await forkPoint('t1', 0, options, 'c8'), 'c1');
    assert.equal(await forkPoint('t1', 2, options, 'c8'), 'c6');
    await assert.rejects(forkPoint('t1', 2, options), /was not taken in/);
    assert.deepEqual((await messagesAt('t1', 'c8', options)).length, 2);
    assert.match(calls.at(-1).url, /messages\?checkpoint_id=c8$/);
  });

  test('edit and regenerate fork with checkpoint_id', async () => {
    const calls = [];
    const options = { fetch: stubFetch(calls) };
    const edited = await edit('http://h/api/chat/stream', 't1', 0, 'new text', {}, options);
    await edited.done;
    const editRun = calls.find((c) => c.init.method === 'POST');
    assert.deepEqual(JSON.parse(editRun.init.body), { conversation_id: 't1', checkpoint_id: 'e1', message: 'new text' });
    calls.length = 0;
    const again = await regenerate('http://h/api/chat/stream', 't1', {}, options);
    await again.done;
    const run = calls.find((c) => c.init.method === 'POST');
    assert.equal(run.url, 'http://h/api/chat/stream');
    assert.deepEqual(JSON.parse(run.init.body), { conversation_id: 't1', checkpoint_id: 'e1', message: 'edited question' });
  });
});
