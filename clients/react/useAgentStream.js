// React binding of the Stagecast client: one run at a time, its accumulated state as React state.
// The state comes from the client's own reducer (clients/js/state.js), so the hook, the
// dashboard and plain JS callers see the same shape.
import { useCallback, useEffect, useRef, useState } from 'react';

import { branches, forkPoint, messagesAt } from '../js/branches.js';
import { initialState, stream } from '../js/stagecast.js';

/**
 * @param {import('./useAgentStream.js').AgentStreamOptions} [options] `url` (default
 *   `/api/chat/stream`), `handlers`, and any stream option (`baseUrl`, `headers`, `timeout`, ...).
 *   Read when start() is called, so they may change between renders.
 * @returns {import('./useAgentStream.js').AgentStream}
 */
export function useAgentStream(options = {}) {
  const [state, setState] = useState(initialState);
  const optionsRef = useRef(options);
  optionsRef.current = options;
  /** The handle of the current run; older runs' late updates are ignored. */
  const handleRef = useRef(null);

  const start = useCallback((body) => {
    handleRef.current?.abort();
    const { url = '/api/chat/stream', handlers = {}, ...streamOptions } = optionsRef.current;
    const handle = stream(
      url,
      body,
      {
        ...handlers,
        onState: (next) => {
          if (handleRef.current === handle) setState(next);
          handlers.onState?.(next);
        },
      },
      streamOptions,
    );
    handleRef.current = handle;
    return handle.done;
  }, []);

  // Answers the question the current run paused on (state.interrupts): a new run on its thread.
  const resume = useCallback(
    (value) => {
      const threadId = handleRef.current?.state.threadId;
      if (handleRef.current?.state.status !== 'paused' || !threadId) {
        return Promise.reject(new Error('resume() needs a run that ended paused (after an interrupt event)'));
      }
      return start({ conversation_id: threadId, resume: value });
    },
    [start],
  );

  const cancel = useCallback(() => handleRef.current?.cancel() ?? Promise.resolve(false), []);

  // Branches (docs/branches.md), on the thread of the current run.
  const threadOf = (what) => {
    const threadId = handleRef.current?.state.threadId;
    if (!threadId) throw new Error(`${what}() needs a conversation: start() one first`);
    return threadId;
  };
  const readOptions = () => {
    const { url = '/api/chat/stream', handlers, ...streamOptions } = optionsRef.current;
    const at = url.indexOf('/api/');
    return { ...streamOptions, baseUrl: streamOptions.baseUrl ?? (at >= 0 ? url.slice(0, at) : '') };
  };
  /** The branch the next message continues (switchBranch), if not the thread's current one. */
  const branchRef = useRef(null);

  // Sends `text` in place of user message `messageIndex`: the thread forks there.
  const edit = useCallback(
    async (messageIndex, text) => {
      const threadId = threadOf('edit');
      const checkpointId = await forkPoint(threadId, messageIndex, readOptions(), branchRef.current);
      branchRef.current = null;
      return start({ conversation_id: threadId, checkpoint_id: checkpointId, message: text });
    },
    [start],
  );

  // Asks the last question again (a fork from the checkpoint before the last answer).
  const regenerate = useCallback(async () => {
    const threadId = threadOf('regenerate');
    const options = readOptions();
    const messages = await messagesAt(threadId, branchRef.current, options);
    const index = messages.findLastIndex((m) => m.role === 'user');
    if (index < 0) throw new Error('regenerate() needs a question on the thread');
    const checkpointId = await forkPoint(threadId, index, options, branchRef.current);
    branchRef.current = null;
    return start({ conversation_id: threadId, checkpoint_id: checkpointId, message: messages[index].content });
  }, [start]);

  // The versions of the conversation (branch tips), oldest first.
  const listBranches = useCallback(() => branches(threadOf('branches'), readOptions()), []);

  // Shows a version: resolves to its messages; the next send() continues it.
  const switchBranch = useCallback(async (checkpointId) => {
    const threadId = threadOf('switchBranch');
    const messages = await messagesAt(threadId, checkpointId, readOptions());
    branchRef.current = checkpointId;
    return messages;
  }, []);

  // A new message on the current run's thread, on the branch switchBranch() chose.
  const send = useCallback(
    (message) => {
      const threadId = threadOf('send');
      const body = { conversation_id: threadId, message };
      if (branchRef.current) body.checkpoint_id = branchRef.current;
      branchRef.current = null;
      return start(body);
    },
    [start],
  );

  // Unmounting stops following the run (the fetch is aborted). It does not cancel the run: the
  // server keeps it for a rejoin and cancels it itself when nobody comes back.
  useEffect(
    () => () => {
      const handle = handleRef.current;
      handleRef.current = null;
      handle?.abort();
    },
    [],
  );

  return { ...state, start, resume, cancel, send, edit, regenerate, branches: listBranches, switchBranch };
}
