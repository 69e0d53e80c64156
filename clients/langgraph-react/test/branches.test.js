// useStream's branching against a running Stagecast (STAGECAST_URL): with fetchStateHistory, a
// message is edited with submit(values, { checkpoint }), an answer regenerated with
// submit(undefined, { checkpoint }), and setBranch switches between the versions — what
// LangChain's agent chat UI does with its Edit, Regenerate and branch arrows.
import { useStream } from '@langchain/langgraph-sdk/react';
import { act, cleanup, render, waitFor } from '@testing-library/react';
import { createElement as h, useState } from 'react';
import { afterEach, beforeAll, describe, expect, test } from 'vitest';

const apiUrl = `${process.env.STAGECAST_URL}/langgraph`;
const FIRST = 'How many ABC-12345 are in stock?';
const EDITED = 'How many XYZ-99999 are in stock?';

let stream;

function Chat() {
  const [threadId, setThreadId] = useState(null);
  stream = useStream({
    apiUrl,
    assistantId: 'chat',
    messagesKey: 'messages',
    threadId,
    onThreadId: setThreadId,
    // `true` reads the 10 newest checkpoints (the SDK's default); a turn of the chat agent
    // writes five, so older branches would drop out of the tree.
    fetchStateHistory: { limit: 100 },
  });
  return h('main', null, stream.messages.map((m) => h('p', { key: m.id }, String(m.content))));
}

const texts = () => stream.messages.map((m) => [m.type, String(m.content)]);

async function settle(predicate) {
  await waitFor(() => expect(stream.isLoading).toBe(false), { timeout: 20000 });
  await waitFor(() => expect(predicate()).toBe(true), { timeout: 20000 });
}

beforeAll(() => {
  if (!process.env.STAGECAST_URL) throw new Error('STAGECAST_URL is not set');
});

afterEach(() => cleanup());

describe('useStream branches against Stagecast', () => {
  test('edit, regenerate and switch branches', async () => {
    render(h(Chat));
    await act(async () => {
      await stream.submit({ messages: [{ type: 'human', content: FIRST }] });
    });
    await settle(() => stream.messages.length === 2 && stream.history.length > 0);
    const [question, firstAnswer] = texts();
    expect(question).toEqual(['human', FIRST]);
    expect(firstAnswer[1]).toContain('1,234');

    // Edit the question: a fork from the checkpoint before it.
    const human = stream.messages[0];
    const parent = stream.getMessagesMetadata(human, 0)?.firstSeenState?.parent_checkpoint;
    expect(parent).toBeTruthy();
    await act(async () => {
      await stream.submit({ messages: [{ type: 'human', content: EDITED }] }, { checkpoint: parent });
    });
    await settle(() => texts()[0]?.[1] === EDITED && stream.messages.length === 2);
    const editedAnswer = texts()[1];
    expect(editedAnswer[1]).toContain('XYZ-99999');
    const editedMeta = stream.getMessagesMetadata(stream.messages[0], 0);
    expect(editedMeta.branchOptions?.length).toBe(2);

    // Regenerate the answer: replay from the checkpoint before it.
    const ai = stream.messages[1];
    const beforeAnswer = stream.getMessagesMetadata(ai, 1)?.firstSeenState?.parent_checkpoint;
    expect(beforeAnswer).toBeTruthy();
    const editedAnswerId = ai.id;
    await act(async () => {
      await stream.submit(undefined, { checkpoint: beforeAnswer });
    });
    await settle(() => stream.messages.length === 2 && stream.messages[1].id !== editedAnswerId);
    expect(texts()[0]).toEqual(['human', EDITED]);
    expect(texts()[1][1]).toContain('XYZ-99999');
    expect(stream.getMessagesMetadata(stream.messages[1], 1).branchOptions?.length).toBe(2);

    // Back to the first question's branch, and forth again.
    const other = editedMeta.branchOptions.find((b) => b !== editedMeta.branch);
    act(() => stream.setBranch(other));
    await waitFor(() => expect(texts()).toEqual([question, firstAnswer]));
    act(() => stream.setBranch(editedMeta.branch));
    await waitFor(() => expect(texts()[0]).toEqual(['human', EDITED]));
  }, 60000);
});
