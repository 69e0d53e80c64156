// useStream from @langchain/langgraph-sdk/react in a mounted component, against a running
// Stagecast's /langgraph API (STAGECAST_URL, set by tests/test_langgraph_react.py).
import { Client } from '@langchain/langgraph-sdk';
import { useStream } from '@langchain/langgraph-sdk/react';
import { act, cleanup, render, screen, waitFor } from '@testing-library/react';
import { createElement as h } from 'react';
import { afterEach, beforeAll, describe, expect, test } from 'vitest';

const apiUrl = `${process.env.STAGECAST_URL}/langgraph`;

let stream;
let customEvents;
let answers;
let created;

function Chat({ assistantId }) {
  stream = useStream({
    apiUrl,
    assistantId,
    messagesKey: 'messages',
    onCustomEvent: (data) => customEvents.push(data),
    onCreated: (run) => created.push(run),
  });
  const ai = stream.messages.filter((m) => m.type === 'ai').at(-1);
  if (ai) answers.push(String(ai.content));
  return h(
    'main',
    null,
    h('p', { 'data-testid': 'loading' }, String(stream.isLoading)),
    h('p', { 'data-testid': 'error' }, stream.error ? String(stream.error) : ''),
    h(
      'ul',
      null,
      stream.messages.map((m) => h('li', { key: m.id, 'data-testid': `message-${m.type}` }, String(m.content))),
    ),
  );
}

beforeAll(() => {
  if (!process.env.STAGECAST_URL) throw new Error('STAGECAST_URL is not set');
});

afterEach(() => {
  cleanup();
});

describe('useStream against Stagecast', () => {
  test('submits a question and sees the answer stream in, with custom progress', async () => {
    customEvents = [];
    answers = [];
    created = [];
    render(h(Chat, { assistantId: 'chat' }));
    await act(async () => {
      stream.submit({ messages: [{ type: 'human', content: 'ABC-12345 부품의 재고는?' }] });
    });
    await waitFor(() => expect(screen.getByTestId('loading').textContent).toBe('true'));
    await waitFor(() => expect(screen.getByTestId('loading').textContent).toBe('false'), { timeout: 20000 });
    expect(screen.getByTestId('error').textContent).toBe('');
    const human = screen.getByTestId('message-human');
    expect(human.textContent).toBe('ABC-12345 부품의 재고는?');
    const final = screen.getByTestId('message-ai').textContent;
    expect(final).toContain('1,234');
    // The answer grew in front of the user: several partial texts, each a prefix of the final.
    const partial = [...new Set(answers)].filter((text) => text && text !== final);
    expect(partial.length).toBeGreaterThan(2);
    for (const text of partial) expect(final.startsWith(text)).toBe(true);
    // Custom progress from inside the nodes, through onCustomEvent.
    const progress = customEvents.filter((e) => e.type === 'progress').map((e) => e.message);
    expect(progress.some((m) => m.startsWith('Looking up ABC-12345'))).toBe(true);
    expect(customEvents.some((e) => e.type === 'sources' && e.sources.length > 0)).toBe(true);
    // The thread is on the server, with the same messages.
    const state = await new Client({ apiUrl }).threads.getState(created[0].thread_id);
    expect(state.values.messages.map((m) => m.type)).toEqual(['human', 'ai']);
    expect(state.values.messages[1].content).toBe(final);
  });

  test('stops a run: the stream ends on the client and the run is cancelled on the server', async () => {
    customEvents = [];
    answers = [];
    created = [];
    render(h(Chat, { assistantId: 'slow' }));
    await act(async () => {
      stream.submit({ question: '30' });
    });
    await waitFor(() => expect(customEvents.some((e) => e.message === 'sleeping 30.0s')).toBe(true), {
      timeout: 10000,
    });
    expect(screen.getByTestId('loading').textContent).toBe('true');
    await act(async () => {
      await stream.stop();
    });
    expect(screen.getByTestId('loading').textContent).toBe('false');
    const client = new Client({ apiUrl });
    const { thread_id, run_id } = created[0];
    await waitFor(
      async () => expect((await client.runs.get(thread_id, run_id)).status).toBe('interrupted'),
      { timeout: 10000, interval: 200 },
    );
    expect((await client.threads.get(thread_id)).status).toBe('idle');
  });
});
