// Type declarations for useAgentStream.js (hand-written).
import type { RunRequest, StreamHandlers, StreamOptions, StreamState } from '../js/stagecast.js';
import type { Branch, ThreadMessage } from '../js/branches.js';

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
  /** A new message on the current run's thread (on the branch switchBranch() chose, if any). */
  send(message: string): Promise<StreamState>;
  /** Sends `text` in place of user message `messageIndex`: the thread forks there (docs/branches.md). */
  edit(messageIndex: number, text: string): Promise<StreamState>;
  /** Asks the last question again: a fork from the checkpoint before the last answer. */
  regenerate(): Promise<StreamState>;
  /** The versions of the conversation (branch tips), oldest first. */
  branches(): Promise<Branch[]>;
  /** Shows a version: resolves to its messages; the next send() continues it. */
  switchBranch(checkpointId: string): Promise<ThreadMessage[]>;
}

/**
 * One agent run at a time, as React state: `status`, `stages`, `tokens`, `answer`, `sources`,
 * `toolCalls`, `interrupts`, `final`, `error`, `runId`, ... (see StreamState). Unmounting aborts the stream.
 * A run resumed on another worker after its own was lost has `restarted` true and `attempt` 2 or
 * more; the text its `restart` event discarded is already gone from `answer` and `tokens`.
 */
export function useAgentStream(options?: AgentStreamOptions): AgentStream;
