// React binding of the Stagecast client: one run at a time, its accumulated state as React state.
// The state comes from the client's own reducer (clients/js/state.js), so the hook, the
// dashboard and plain JS callers see the same shape.
import { useCallback, useEffect, useRef, useState } from 'react';

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

  return { ...state, start, resume, cancel };
}
