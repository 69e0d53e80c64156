// useAgentStream in a mounted component, with fetch answering recorded streams.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { act, cleanup, render, screen, waitFor } from '@testing-library/react';
import { createElement as h } from 'react';
import { afterEach, describe, expect, test, vi } from 'vitest';

import { useAgentStream } from '../useAgentStream.js';

// The recordings of the client's own tests (clients/js/test/fixtures).
const recorded = (name) => readFileSync(join(import.meta.dirname, '../../js/test/fixtures', `${name}.sse`));
const KO = recorded('ko-inventory');
const eventsOf = (bytes) =>
  bytes
    .toString('utf8')
    .split('\n')
    .filter((line) => line.startsWith('data: '))
    .map((line) => JSON.parse(line.slice('data: '.length)));
const FINAL = eventsOf(KO).find((event) => event.type === 'final').data;
// A run taken over after its worker was killed mid-answer: a `restart` event discards the
// cut-off message, and the answer is written again under a new message id.
const RESTARTED = recorded('ko-restart');
/** The recording up to (not including) the first event of `type`. */
const upTo = (bytes, type) => bytes.subarray(0, bytes.indexOf(Buffer.from(`data: {"type":"${type}"`)));
/** The recording up to and including the first event of `type`. */
const through = (bytes, type) => bytes.subarray(0, bytes.indexOf('\n\n', upTo(bytes, type).length) + 2);

/**
 * A streaming Response like fetch's: the bytes in 100-byte chunks (cutting UTF-8 characters),
 * then the end, or nothing more while `hold` is set. Aborting the request errors the body, as fetch does.
 */
function sseResponse(bytes, signal, { hold = false } = {}) {
  const chunks = [];
  for (let at = 0; at < bytes.length; at += 100) chunks.push(bytes.subarray(at, at + 100));
  const body = new ReadableStream({
    start(controller) {
      signal.addEventListener('abort', () => controller.error(new DOMException('aborted', 'AbortError')));
    },
    pull(controller) {
      if (chunks.length) controller.enqueue(new Uint8Array(chunks.shift()));
      else if (!hold) controller.close();
    },
  });
  return new Response(body, {
    headers: { 'Content-Type': 'text/event-stream; charset=utf-8', 'X-Run-ID': 'run_5f0c9a3e' },
  });
}

/** fetch: POST /api/chat/stream answers `streams` in turn; any other request gets 202. */
function mockFetch(...streams) {
  const fetch = vi.fn(async (url, init) => {
    if (url === '/api/chat/stream') {
      const [bytes, options] = streams.shift();
      return sseResponse(bytes, init.signal, options);
    }
    return new Response(null, { status: 202 });
  });
  vi.stubGlobal('fetch', fetch);
  return fetch;
}

let agent;
function Chat() {
  agent = useAgentStream({ idleTimeout: 0 });
  return h(
    'main',
    null,
    h('p', { 'data-testid': 'status' }, agent.status),
    h(
      'ol',
      null,
      // Parallel stages (the review's policy checks) share a name: the position keeps keys unique.
      agent.stages.map((s, i) => h('li', { key: `${i}:${s.stage}` }, `${s.stage}:${s.status}`)),
    ),
    h('p', { 'data-testid': 'answer' }, agent.answer),
    agent.restarted && h('p', { 'data-testid': 'resumed' }, `resumed on another worker (attempt ${agent.attempt})`),
  );
}

const statusShown = () => screen.getByTestId('status').textContent;

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe('useAgentStream', () => {
  test('renders the stages, the answer and the final result of a recorded run', async () => {
    const fetch = mockFetch([KO]);
    render(h(Chat));
    expect(statusShown()).toBe('idle');

    let done;
    act(() => {
      done = agent.start({ message: 'ABC-12345 부품의 재고는?' });
    });
    await waitFor(() => expect(statusShown()).toBe('success'));

    expect(screen.getAllByRole('listitem').map((li) => li.textContent)).toEqual([
      'query_analysis:completed',
      'data_retrieval:completed',
      'response_generation:completed',
    ]);
    expect(screen.getByTestId('answer').textContent).toBe(FINAL.content);
    expect(agent.final).toEqual(FINAL);
    expect(agent.final.table_data.rows).toHaveLength(3);
    expect(agent.tokens.join('')).toBe(FINAL.content);
    expect(agent.sources).toHaveLength(2);
    expect(agent.runId).toBe('run_5f0c9a3e');
    expect(agent.error).toBeNull();
    expect((await done).status).toBe('success');

    expect(fetch).toHaveBeenCalledTimes(1);
    const [url, init] = fetch.mock.calls[0];
    expect([url, init.method, JSON.parse(init.body)]).toEqual([
      '/api/chat/stream',
      'POST',
      { message: 'ABC-12345 부품의 재고는?' },
    ]);
  });

  test('unmounting aborts the stream, without cancelling the run', async () => {
    const fetch = mockFetch([KO.subarray(0, 3000), { hold: true }]);
    const { unmount } = render(h(Chat));
    let done;
    act(() => {
      done = agent.start({ message: 'ABC-12345 부품의 재고는?' });
    });
    await waitFor(() => expect(agent.stages.length).toBeGreaterThan(1));
    expect(statusShown()).toBe('streaming');
    const { signal } = fetch.mock.calls[0][1];
    expect(signal.aborted).toBe(false);

    unmount();

    expect(signal.aborted).toBe(true);
    expect((await done).status).toBe('cancelled');
    expect(fetch).toHaveBeenCalledTimes(1);
  });

  test('cancel() stops the run and calls the cancel endpoint', async () => {
    const fetch = mockFetch([KO.subarray(0, 3000), { hold: true }]);
    render(h(Chat));
    act(() => {
      agent.start({ message: 'ABC-12345 부품의 재고는?' });
    });
    await waitFor(() => expect(statusShown()).toBe('streaming'));

    let accepted;
    await act(async () => {
      accepted = await agent.cancel();
    });

    expect(accepted).toBe(true);
    await waitFor(() => expect(statusShown()).toBe('cancelled'));
    expect(agent.error.error).toBe('Cancelled');
    expect(fetch.mock.calls.map(([url, init]) => `${init.method} ${url}`)).toEqual([
      'POST /api/chat/stream',
      'POST /api/runs/run_5f0c9a3e/cancel',
    ]);
  });

  test('a new start() drops the previous run and shows only the new one', async () => {
    const fetch = mockFetch([KO.subarray(0, 3000), { hold: true }], [recorded('en-tool-error')]);
    render(h(Chat));
    act(() => {
      agent.start({ message: 'first' });
    });
    await waitFor(() => expect(statusShown()).toBe('streaming'));
    act(() => {
      agent.start({ message: 'second' });
    });
    await waitFor(() => expect(statusShown()).toBe('error'));
    expect(fetch.mock.calls[0][1].signal.aborted).toBe(true);
    expect(agent.answer).toBe('There are 12 units');
    expect(agent.error.error).toBe('UpstreamError');
    expect(agent.stages.map((s) => s.stage)).toEqual(['agent']);
  });

  test('a restart drops the cut-off answer at once; the rest of the stream writes it again', async () => {
    const finalContent = eventsOf(RESTARTED).find((event) => event.type === 'final').data.content;
    mockFetch([through(RESTARTED, 'restart'), { hold: true }], [upTo(RESTARTED, 'final'), { hold: true }]);
    render(h(Chat));
    act(() => {
      agent.start({ message: 'ABC-12345 부품의 재고는?' });
    });
    await waitFor(() => expect(agent.restarted).toBe(true));
    expect(screen.getByTestId('answer').textContent).toBe('');
    expect(screen.getByTestId('resumed').textContent).toBe('resumed on another worker (attempt 2)');

    // Up to final, not included: what streamed is already final.content, with no text twice.
    act(() => {
      agent.start({ message: 'ABC-12345 부품의 재고는?' });
    });
    await waitFor(() => expect(agent.stages.at(-1)?.status).toBe('completed'));
    expect(agent.final).toBeNull();
    expect(screen.getByTestId('answer').textContent).toBe(finalContent);
    expect(agent.tokens.join('')).toBe(finalContent);
    expect([agent.attempt, agent.restarted, agent.status]).toEqual([2, true, 'streaming']);
  });

  test('a paused run exposes its question; resume(value) answers it on the same thread', async () => {
    const fetch = mockFetch([recorded('en-review-paused')], [recorded('en-review-resumed')]);
    render(h(Chat));
    act(() => {
      agent.start({ message: 'Request 120 x ABC-12345', agent: 'review' });
    });
    await waitFor(() => expect(statusShown()).toBe('paused'));
    expect(agent.interrupts).toHaveLength(1);
    expect(agent.interrupts[0].value.options).toEqual(['approve', 'reject']);
    expect(agent.final).toBeNull();

    let done;
    act(() => {
      done = agent.resume('approve');
    });
    await waitFor(() => expect(statusShown()).toBe('success'));
    expect(agent.interrupts).toEqual([]);
    expect(agent.final.table_data.rows[0][0]).toBe('ABC-12345');
    expect((await done).status).toBe('success');
    expect(JSON.parse(fetch.mock.calls[1][1].body)).toEqual({ conversation_id: 'thr_review_01', resume: 'approve' });
  });

  test('resume() without a paused run rejects', async () => {
    mockFetch([KO]);
    render(h(Chat));
    await act(async () => {
      await agent.start({ message: 'x' });
    });
    await expect(agent.resume('yes')).rejects.toThrow(/ended paused/);
  });
});

describe('useAgentStream branches', () => {
  test('edit and regenerate fork the thread from the checkpoint the server names', async () => {
    const thread = eventsOf(KO).find((e) => e.type === 'start').data.thread_id;
    const checkpoints = [
      { checkpoint_id: 'c5', parent_checkpoint_id: 'c4', next: [], message_count: 2 },
      { checkpoint_id: 'c4', parent_checkpoint_id: 'c1', next: ['answer'], message_count: 1 },
      { checkpoint_id: 'c1', parent_checkpoint_id: null, next: ['__start__'], message_count: 0 },
    ];
    const streams = [KO, KO, KO];
    const fetch = vi.fn(async (url, init) => {
      if (url === '/api/chat/stream') return sseResponse(streams.shift(), init.signal);
      if (url.startsWith(`/api/threads/${thread}/history`)) return Response.json({ thread_id: thread, checkpoints });
      if (url.startsWith(`/api/threads/${thread}/messages`)) {
        return Response.json({ thread_id: thread, messages: [{ id: 'h', role: 'user', content: 'asked' }, { id: 'a', role: 'assistant', content: 'x' }] });
      }
      return new Response(null, { status: 404 });
    });
    vi.stubGlobal('fetch', fetch);
    render(h(Chat));
    await act(async () => {
      await agent.start({ message: 'asked' });
    });
    await act(async () => {
      await agent.edit(0, 'asked better');
    });
    await act(async () => {
      await agent.regenerate();
    });
    const runs = fetch.mock.calls.filter(([url]) => url === '/api/chat/stream').map(([, init]) => JSON.parse(init.body));
    expect(runs.slice(1)).toEqual([
      { conversation_id: thread, checkpoint_id: 'c1', message: 'asked better' },
      { conversation_id: thread, checkpoint_id: 'c1', message: 'asked' },
    ]);
    const tips = await agent.branches();
    expect(tips.map((b) => [b.checkpointId, b.current])).toEqual([['c5', true]]);
    expect((await agent.switchBranch('c5')).map((m) => m.content)).toEqual(['asked', 'x']);
  });
});
