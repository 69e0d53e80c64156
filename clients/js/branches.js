// Branches of a conversation: edit a message, regenerate the last answer, list and switch the
// versions of a thread (docs/branches.md). A thread keeps every checkpoint; a run started with
// `checkpoint_id` forks from one. Reads GET /api/threads/<id>/history and /messages.
import { stream } from './stagecast.js';

const PAGE = 200;

/**
 * The thread's checkpoints, newest first (every page).
 * @param {string} threadId
 * @param {import('./stagecast.js').StreamOptions} [options] `baseUrl`, `headers`, `fetch`, `credentials`
 * @returns {Promise<import('./stagecast.js').Checkpoint[]>}
 */
export async function history(threadId, options = {}) {
  const all = [];
  let before = null;
  for (;;) {
    const query = new URLSearchParams({ limit: String(PAGE), ...(before ? { before } : {}) });
    const page = (await get(`${apiPathOf(options)}/threads/${encodeURIComponent(threadId)}/history?${query}`, options)).checkpoints;
    all.push(...page);
    if (page.length < PAGE) return all;
    before = page.at(-1).checkpoint_id;
  }
}

/**
 * The conversation at a checkpoint (a branch's tip), or the thread's current one.
 * @returns {Promise<{id: string|null, role: string, content: string}[]>}
 */
export async function messagesAt(threadId, checkpointId = null, options = {}) {
  const query = checkpointId ? `?checkpoint_id=${encodeURIComponent(checkpointId)}` : '';
  return (await get(`${apiPathOf(options)}/threads/${encodeURIComponent(threadId)}/messages${query}`, options)).messages;
}

/**
 * The versions of the conversation: one per branch tip (a checkpoint that ended a turn and that
 * no later checkpoint continues), oldest first; `current` is the one the thread continues.
 * @returns {Promise<import('./stagecast.js').Branch[]>}
 */
export async function branches(threadId, options = {}) {
  const checkpoints = await history(threadId, options);
  const parents = new Set(checkpoints.map((c) => c.parent_checkpoint_id));
  const latest = checkpoints[0]?.checkpoint_id;
  return checkpoints
    .filter((c) => !parents.has(c.checkpoint_id) && c.next.length === 0)
    .reverse()
    .map((c) => ({
      checkpointId: c.checkpoint_id,
      messageCount: c.message_count,
      createdAt: c.created_at,
      current: c.checkpoint_id === latest,
    }));
}

/**
 * Where message `messageIndex` was taken in: the checkpoint to fork from to send it again.
 * `before` (a branch's tip) looks in that branch instead of the thread's current one.
 * @returns {Promise<string>}
 */
export async function forkPoint(threadId, messageIndex, options = {}, before = null) {
  const checkpoints = await history(threadId, options);
  const byId = new Map(checkpoints.map((c) => [c.checkpoint_id, c]));
  // Walk the branch back from its tip: the checkpoints of other branches do not count.
  let node = byId.get(before ?? checkpoints[0]?.checkpoint_id);
  while (node) {
    if (node.next.length === 1 && node.next[0] === '__start__' && node.message_count === messageIndex) {
      return node.checkpoint_id;
    }
    node = byId.get(node.parent_checkpoint_id);
  }
  throw new Error(`message ${messageIndex} of ${threadId} was not taken in by a run of this branch`);
}

/**
 * Sends `text` in place of message `messageIndex` (a user message): the thread forks there and
 * continues with the new answer. Resolves to the handle of the run that answers it.
 * @returns {Promise<import('./stagecast.js').StreamHandle>}
 */
export async function edit(url, threadId, messageIndex, text, handlers = {}, options = {}) {
  const checkpointId = await forkPoint(threadId, messageIndex, withBase(url, options));
  return stream(url, { conversation_id: threadId, checkpoint_id: checkpointId, message: text }, handlers, options);
}

/**
 * Asks the last question again: a fork from the checkpoint before the last answer, with the same
 * message. Resolves to the handle of the run that answers it.
 * @returns {Promise<import('./stagecast.js').StreamHandle>}
 */
export async function regenerate(url, threadId, handlers = {}, options = {}) {
  const read = withBase(url, options);
  const messages = await messagesAt(threadId, null, read);
  const index = messages.findLastIndex((m) => m.role === 'user');
  if (index < 0) throw new Error(`${threadId} has no question to ask again`);
  const checkpointId = await forkPoint(threadId, index, read);
  const body = { conversation_id: threadId, checkpoint_id: checkpointId, message: messages[index].content };
  return stream(url, body, handlers, options);
}

/**
 * Continues an older branch: `message` follows that branch's conversation (the thread's
 * current messages become that branch, continued).
 * @returns {import('./stagecast.js').StreamHandle}
 */
export function continueBranch(url, threadId, tipCheckpointId, message, handlers = {}, options = {}) {
  return stream(url, { conversation_id: threadId, checkpoint_id: tipCheckpointId, message }, handlers, options);
}

/** Where the native routes are mounted: options.apiPath, '/api' by default (as stagecast.js). */
function apiPathOf(options) {
  return options.apiPath ?? '/api';
}

function withBase(url, options) {
  if (options.baseUrl !== undefined) return options;
  const at = url.indexOf(`${apiPathOf(options)}/`);
  return { ...options, baseUrl: at >= 0 ? url.slice(0, at) : '' };
}

async function get(path, options) {
  const { fetch = globalThis.fetch, credentials, baseUrl = '', headers = {} } = options;
  const init = { headers: { Accept: 'application/json', ...headers } };
  const response = await fetch(`${baseUrl}${path}`, credentials ? { ...init, credentials } : init);
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const error = new Error(body?.message ?? `HTTP ${response.status}`);
    error.httpStatus = response.status;
    error.code = body?.error;
    throw error;
  }
  return body;
}
