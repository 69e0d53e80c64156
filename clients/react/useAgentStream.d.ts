// Type declarations for useAgentStream.js (hand-written).
import type { RunRequest, StreamHandlers, StreamOptions, StreamState } from '../js/stagecast.js';

export interface AgentStreamOptions extends StreamOptions {
  /** The streaming endpoint. Default `/api/chat/stream`. */
  url?: string;
  /** Handlers of the client (onToken, onFinal, ...), called besides the hook's state updates. */
  handlers?: StreamHandlers;
}

export interface AgentStream extends StreamState {
  /**
   * Starts a run (stopping any previous one without cancelling it). Resolves with the final
   * state when the run's stream ends.
   */
  start(body: RunRequest): Promise<StreamState>;
  /**
   * Answers the questions the current run paused on (`interrupts`, status `paused`): starts the
   * run that continues its thread. `value` is any JSON value but null, or
   * `{[interruptId]: value}` for several questions. Rejects if the run did not pause.
   */
  resume(value: unknown): Promise<StreamState>;
  /** Stops the current run and asks the server to cancel it; resolves with whether it accepted. */
  cancel(): Promise<boolean>;
}

/**
 * One agent run at a time, as React state: `status`, `stages`, `tokens`, `answer`, `sources`,
 * `toolCalls`, `interrupts`, `final`, `error`, `runId`, ... (see StreamState). Unmounting aborts the stream.
 * A run resumed on another worker after its own was lost has `restarted` true and `attempt` 2 or
 * more; the text its `restart` event discarded is already gone from `answer` and `tokens`.
 */
export function useAgentStream(options?: AgentStreamOptions): AgentStream;
