// Types of branches.js: edit a message, regenerate an answer, list and switch branches.
import type { RunRequest, StreamHandle, StreamHandlers, StreamOptions } from './stagecast.js';

/** One checkpoint of a thread (GET /api/threads/<id>/history). */
export interface Checkpoint {
  checkpoint_id: string;
  parent_checkpoint_id: string | null;
  created_at: string | null;
  run_id: string | null;
  message_count: number;
  /** The nodes that run from here; `["__start__"]` where a run took in a new message. */
  next: string[];
  interrupts: { id: string; value: unknown }[];
}

/** One version of the conversation: the tip of a branch. */
export interface Branch {
  checkpointId: string;
  messageCount: number;
  createdAt: string | null;
  /** The branch the thread continues (its newest checkpoint). */
  current: boolean;
}

export interface ThreadMessage {
  id: string | null;
  role: string;
  content: string;
}

export function history(threadId: string, options?: StreamOptions): Promise<Checkpoint[]>;
export function messagesAt(threadId: string, checkpointId?: string | null, options?: StreamOptions): Promise<ThreadMessage[]>;
export function branches(threadId: string, options?: StreamOptions): Promise<Branch[]>;
export function forkPoint(threadId: string, messageIndex: number, options?: StreamOptions, before?: string | null): Promise<string>;
export function edit(url: string, threadId: string, messageIndex: number, text: string, handlers?: StreamHandlers, options?: StreamOptions): Promise<StreamHandle>;
export function regenerate(url: string, threadId: string, handlers?: StreamHandlers, options?: StreamOptions): Promise<StreamHandle>;
export function continueBranch(url: string, threadId: string, tipCheckpointId: string, message: RunRequest['message'], handlers?: StreamHandlers, options?: StreamOptions): StreamHandle;
