// Stagecast client: follows one agent run over fetch and Server-Sent Events.
//
// stream() starts a run (POST /api/chat/stream); watchRun() joins one that exists
// (GET /api/runs/<id>/stream). Either way, when the connection drops before the run's `done`
// event, the client rejoins with Last-Event-ID and gets exactly the events it missed: the run
// lives on the server, not in the connection, so the question is never sent twice.
// Spec references are to WHATWG HTML, "Server-sent events" (section 9.2).
import { readEventStream } from './sse.js';
import { initialState, isTerminal, reduce } from './state.js';

export { initialState, isTerminal, reduce };

/** Defaults of the StreamOptions (documented in stagecast.d.ts). */
const DEFAULTS = {
  maxRetries: 5,
  retryDelay: 1000,
  maxRetryDelay: 30_000,
  timeout: 0,
  // Three missed heartbeats at the server's default interval (15 s).
  idleTimeout: 45_000,
};

const HANDLER_OF = {
  start: 'onStart',
  progress: 'onProgress',
  sources: 'onSources',
  token: 'onToken',
  tool_call: 'onToolCall',
  interrupt: 'onInterrupt',
  final: 'onFinal',
  error: 'onError',
  done: 'onDone',
  restart: 'onRestart',
};

const IDLE = Symbol('idle');

/**
 * Starts a run and follows its events.
 *
 * @param {string} url the streaming endpoint, e.g. `/api/chat/stream` or `https://host/api/chat/stream`
 * @param {import('./stagecast.js').RunRequest} body the run request (`message`, `conversation_id`, ...)
 * @param {import('./stagecast.js').StreamHandlers} [handlers]
 * @param {import('./stagecast.js').StreamOptions} [options]
 * @returns {import('./stagecast.js').StreamHandle}
 */
export function stream(url, body, handlers = {}, options = {}) {
  const first = {
    url,
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'Content-Type': 'application/json' },
  };
  return new RunStream(
    { baseUrl: options.baseUrl ?? baseUrlOf(url, options.apiPath ?? '/api'), first, runId: null, ownsRun: true },
    handlers,
    options,
  );
}

/**
 * Answers the question a paused thread waits for (its run ended `paused` after an `interrupt`
 * event) and follows the run that continues the graph. `value` is any JSON value but null, or
 * `{[interruptId]: value}` when several questions are pending.
 *
 * @param {string} url the streaming endpoint, as for stream()
 * @param {string} conversationId the paused thread
 * @param {unknown} value the answer
 * @param {import('./stagecast.js').StreamHandlers} [handlers]
 * @param {import('./stagecast.js').StreamOptions} [options]
 * @returns {import('./stagecast.js').StreamHandle}
 */
export function resume(url, conversationId, value, handlers = {}, options = {}) {
  return stream(url, { conversation_id: conversationId, resume: value }, handlers, options);
}

/**
 * Follows a run that already exists (another tab's, or one made with `POST /api/runs`) from
 * its first event. Its timeout does not cancel the run (it is not this client's); cancel() does.
 *
 * @param {string} runId
 * @param {import('./stagecast.js').StreamHandlers} [handlers]
 * @param {import('./stagecast.js').StreamOptions} [options] `baseUrl` is the server's origin and prefix ('' for same origin)
 * @returns {import('./stagecast.js').StreamHandle}
 */
export function watchRun(runId, handlers = {}, options = {}) {
  return new RunStream(
    { baseUrl: options.baseUrl ?? '', first: null, runId, ownsRun: false },
    handlers,
    options,
  );
}

class RunStream {
  #handlers;
  #options;
  #rawOptions;
  #baseUrl;
  /** Where the native routes are: the base URL and the API's path (options.apiPath, '/api'). */
  #api;
  #ownsRun;
  #runId;
  #state = initialState();
  #lastEventId = null;
  #lastSeq = 0;
  #retryMs;
  /** Aborted when the stream stops for good: cancel, abort, timeout, a handler's exception. */
  #controller = new AbortController();
  #stopReason = null;
  #handlerError = null;

  constructor({ baseUrl, first, runId, ownsRun }, handlers, options) {
    this.#handlers = handlers;
    this.#rawOptions = options;
    this.#options = { ...DEFAULTS, ...definedOnly(options) };
    this.#baseUrl = baseUrl;
    this.#api = `${baseUrl}${options.apiPath ?? '/api'}`;
    this.#ownsRun = ownsRun;
    this.#runId = runId;
    this.#retryMs = this.#options.retryDelay;
    // Handlers never run inside stream()/watchRun(): the caller has its handle first.
    /** @type {Promise<import('./stagecast.js').StreamState>} */
    this.done = Promise.resolve().then(() => this.#run(first));
  }

  /** @returns {import('./stagecast.js').StreamState} */
  get state() {
    return this.#state;
  }

  /** @returns {string | null} */
  get runId() {
    return this.#runId;
  }

  /** @returns {string | null} the id of the last event delivered (`<run_id>:<seq>`). */
  get lastEventId() {
    return this.#lastEventId;
  }

  /**
   * Stops following the run and asks the server to cancel it.
   * @returns {Promise<boolean>} whether the server accepted the cancel request.
   */
  async cancel() {
    const runId = this.#runId;
    if (!this.#stop('cancelled', { error: 'Cancelled', message: 'Cancelled by the client' })) return false;
    return runId ? this.#requestCancel(runId) : false;
  }

  /** @returns {Array<{id: string, value: unknown}>} the questions of a paused run ([] otherwise). */
  get interrupts() {
    return this.#state.interrupts;
  }

  /**
   * Answers the questions this run paused on and follows the run that continues its thread.
   * @param {unknown} value the answer (or `{[interruptId]: value}` for several questions)
   * @param {import('./stagecast.js').StreamHandlers} [handlers] default: this run's handlers
   * @returns {import('./stagecast.js').StreamHandle}
   */
  resume(value, handlers = this.#handlers) {
    const threadId = this.#state.threadId;
    if (this.#state.status !== 'paused' || !threadId) {
      throw new Error('resume() needs a run that ended paused (after an interrupt event)');
    }
    const options = { ...this.#rawOptions, baseUrl: this.#baseUrl };
    return resume(`${this.#api}/chat/stream`, threadId, value, handlers, options);
  }

  /**
   * Stops following the run without cancelling it: the server keeps it for a rejoin (and
   * cancels it itself if nobody rejoins within its grace period).
   */
  abort() {
    this.#stop('cancelled', { error: 'Cancelled', message: 'The client stopped following the run' });
  }

  async #run(first) {
    const { timeout, signal } = this.#options;
    const onTimeout = () =>
      this.#stop('timeout', { error: 'Timeout', message: `No result within ${timeout} ms` });
    const timer = timeout > 0 ? setTimeout(onTimeout, timeout) : null;
    const onAbort = () => this.abort();
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      this.#dispatch({ type: 'status', status: 'connecting' });
      const ending = await this.#follow(first ?? this.#resumeRequest());
      const stop = this.#stopReason;
      if (stop?.status === 'timeout' && this.#ownsRun && this.#runId) await this.#requestCancel(this.#runId);
      if (stop ?? ending) this.#end(stop ?? ending);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
    if (this.#handlerError) throw this.#handlerError;
    return this.#state;
  }

  /**
   * Connects, and reconnects after each drop, until the run is over.
   * @returns {Promise<{status: string, error?: object} | undefined>} how the run ended when the
   *   client decided it; undefined when the server's `done` said so or the stream was stopped.
   */
  async #follow(request) {
    let attempt = 0;
    while (!this.#stopReason) {
      const result = await this.#connect(request);
      if (this.#stopReason || result.kind === 'done') return undefined;
      if (result.kind === 'end') return result;
      // A drop. Without a run id there is nothing to rejoin, and the question is never re-sent.
      if (!this.#runId) return { status: 'error', error: result.error };
      attempt = result.progressed ? 1 : attempt + 1;
      if (attempt > this.#options.maxRetries) {
        return { status: result.error.error === 'Timeout' ? 'timeout' : 'error', error: result.error };
      }
      const delay = Math.max(this.#backoff(attempt), result.retryAfterMs ?? 0);
      this.#dispatch({ type: 'status', status: 'reconnecting' }, { attempt, delay, error: result.error });
      await sleep(delay, this.#controller.signal);
      request = this.#resumeRequest();
    }
    return undefined;
  }

  /**
   * One HTTP exchange.
   * @returns {Promise<{kind: 'done'} | {kind: 'end', status: string, error?: object}
   *   | {kind: 'drop', error: object, progressed: boolean, retryAfterMs?: number}>}
   */
  async #connect(request) {
    const conn = new AbortController();
    const stopConn = () => conn.abort();
    this.#controller.signal.addEventListener('abort', stopConn);
    const idle = idleTimer(this.#options.idleTimeout, () => conn.abort(IDLE));
    let progressed = false;
    const dropped = (err) => ({ kind: 'drop', progressed, error: this.#dropError(conn.signal, err) });
    try {
      idle.touch();
      let response;
      try {
        response = await this.#fetch(request.url, {
          method: request.method,
          headers: { Accept: 'text/event-stream', ...this.#options.headers, ...request.headers },
          body: request.body,
          signal: conn.signal,
        });
      } catch (err) {
        return dropped(err);
      }
      const refused = await this.#refusal(response, request);
      if (refused) return refused;
      this.#runId ??= response.headers.get('X-Run-ID');
      this.#dispatch({ type: 'status', status: 'streaming' });
      try {
        for await (const item of readEventStream(response.body, { onBytes: idle.touch })) {
          if ('retry' in item) {
            // "set the event stream's reconnection time to that integer"
            this.#retryMs = item.retry;
            continue;
          }
          const { id, data } = item.message;
          if (this.#isDuplicate(id)) continue;
          const event = parseEvent(data);
          if (!event)
            return {
              kind: 'end',
              status: 'error',
              error: { error: 'ProtocolError', message: `Event ${id} is not a JSON event` },
            };
          this.#deliver(event);
          progressed = true;
          if (conn.signal.aborted) return dropped();
          if (isTerminal(this.#state.status)) return { kind: 'done' };
        }
      } catch (err) {
        return dropped(err);
      }
      return {
        kind: 'drop',
        progressed,
        error: { error: 'NetworkError', message: 'The stream ended before the run was done' },
      };
    } finally {
      idle.stop();
      this.#controller.signal.removeEventListener('abort', stopConn);
    }
  }

  /** A non-streaming answer: the end of the run, a retryable drop, or null to go on streaming. */
  async #refusal(response, request) {
    // 204 on a rejoin: the run is over and everything was delivered (it also stops EventSource).
    if (response.status === 204) return { kind: 'end', ...this.#endOfDeliveredRun() };
    if (!response.ok) {
      const error = await httpError(response);
      const retryable = request.method === 'GET' && (response.status === 429 || response.status >= 500);
      if (retryable) return { kind: 'drop', progressed: false, error, retryAfterMs: retryAfterMs(response) };
      return { kind: 'end', status: 'error', error };
    }
    // "if res's Content-Type is not text/event-stream ... fail the connection."
    const type = response.headers.get('Content-Type') ?? '';
    if (!/^text\/event-stream\b/i.test(type)) {
      response.body?.cancel().catch(() => {});
      return {
        kind: 'end',
        status: 'error',
        error: { error: 'ProtocolError', message: `Expected text/event-stream, got "${type}"` },
      };
    }
    return null;
  }

  /** The outcome of a run whose `done` was not seen but which the server says is delivered. */
  #endOfDeliveredRun() {
    const { final, error, interrupts } = this.#state;
    if (final) return { status: 'success' };
    if (interrupts.length) return { status: 'paused' };
    if (error) return { status: { Cancelled: 'cancelled', Timeout: 'timeout' }[error.error] ?? 'error' };
    return {
      status: 'error',
      error: { error: 'Incomplete', message: 'The run is over but its result was not received' },
    };
  }

  #dropError(signal, err) {
    if (signal.reason === IDLE)
      return { error: 'Timeout', message: `No data for ${this.#options.idleTimeout} ms` };
    return { error: 'NetworkError', message: err?.message || 'The connection was lost' };
  }

  /**
   * Event ids are `<run_id>:<seq>` with seq increasing, so anything at or below the last
   * delivered seq was delivered already (a rejoin may repeat events around the cut).
   */
  #isDuplicate(id) {
    if (id === undefined) return false;
    const seq = /:(\d+)$/.exec(id);
    if (seq) {
      if (Number(seq[1]) <= this.#lastSeq) return true;
      this.#lastSeq = Number(seq[1]);
    }
    this.#lastEventId = id;
    return false;
  }

  #deliver(event) {
    this.#runId ??= event.run_id ?? null;
    this.#dispatch(event);
    this.#emit('onEvent', event);
    const name = HANDLER_OF[event.type];
    if (name) this.#emit(name, event.data, event);
  }

  /** Updates the state; onState on every change, onStatus on every client status and status change. */
  #dispatch(action, detail) {
    const before = this.#state;
    this.#state = reduce(before, action);
    if (this.#state === before) return;
    this.#emit('onState', this.#state);
    if (action.type === 'status' || this.#state.status !== before.status) {
      this.#emit('onStatus', this.#state.status, detail);
    }
  }

  #emit(name, ...args) {
    const handler = this.#handlers[name];
    if (!handler || this.#handlerError) return;
    try {
      handler(...args);
    } catch (err) {
      // A bug in the caller's code: stop, and reject `done` with it.
      this.#handlerError = err;
      this.#stop('error', { error: 'HandlerError', message: `${name} threw: ${err?.message ?? err}` });
    }
  }

  /** The client ends the run's stream (not from a server `done`). */
  #end({ status, error }) {
    if (isTerminal(this.#state.status)) return;
    this.#dispatch({ type: 'status', status, error });
    if (error) this.#emit('onError', error);
  }

  /** @returns {boolean} whether this call stopped a stream that was still going. */
  #stop(status, error) {
    if (this.#stopReason || isTerminal(this.#state.status)) return false;
    this.#stopReason = { status, error };
    this.#controller.abort();
    return true;
  }

  async #requestCancel(runId) {
    try {
      const response = await this.#fetch(`${this.#api}/runs/${encodeURIComponent(runId)}/cancel`, {
        method: 'POST',
        headers: { ...this.#options.headers },
      });
      response.body?.cancel().catch(() => {});
      return response.ok;
    } catch {
      return false;
    }
  }

  #resumeRequest() {
    return {
      url: `${this.#api}/runs/${encodeURIComponent(this.#runId)}/stream`,
      method: 'GET',
      headers: this.#lastEventId === null ? {} : { 'Last-Event-ID': this.#lastEventId },
    };
  }

  /**
   * Exponential backoff from the reconnection time (the server's `retry:`, else
   * options.retryDelay), capped at maxRetryDelay, plus up to 50% jitter so that clients cut off
   * together do not return together. Never shorter than the server's reconnection time.
   */
  #backoff(attempt) {
    const base = this.#retryMs;
    const delay = Math.max(base, Math.min(this.#options.maxRetryDelay, base * 2 ** (attempt - 1)));
    return delay + Math.random() * delay * 0.5;
  }

  #fetch(url, init) {
    const { fetch = globalThis.fetch, credentials } = this.#options;
    return fetch(url, credentials ? { ...init, credentials } : init);
  }
}

/** Options set to undefined (e.g. passed through by a wrapper) keep their defaults. */
function definedOnly(options) {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
}

function baseUrlOf(url, apiPath) {
  const text = String(url);
  const at = text.lastIndexOf(`${apiPath}/chat/stream`);
  if (at === -1) throw new TypeError(`options.baseUrl is required when the url is not ...${apiPath}/chat/stream`);
  return text.slice(0, at);
}

function parseEvent(data) {
  try {
    const event = JSON.parse(data);
    return event && typeof event === 'object' && typeof event.type === 'string' ? event : null;
  } catch {
    return null;
  }
}

/** `{success: false, error, message}` from the server, or a generic error for other bodies. */
async function httpError(response) {
  const body = await response.json().catch(() => null);
  return {
    error: typeof body?.error === 'string' ? body.error : 'HttpError',
    message: typeof body?.message === 'string' ? body.message : `HTTP ${response.status}`,
    httpStatus: response.status,
  };
}

/** Retry-After in seconds or as an HTTP date, in ms; undefined when absent. */
function retryAfterMs(response) {
  const value = response.headers.get('Retry-After');
  if (!value) return undefined;
  const ms = /^\d+$/.test(value) ? Number(value) * 1000 : Date.parse(value) - Date.now();
  return Number.isFinite(ms) ? Math.max(0, ms) : undefined;
}

/** Runs onIdle when touch() was not called for `ms` (0: never). */
function idleTimer(ms, onIdle) {
  let timer;
  return {
    touch: () => {
      if (ms <= 0) return;
      clearTimeout(timer);
      timer = setTimeout(onIdle, ms);
    },
    stop: () => clearTimeout(timer),
  };
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const wake = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', wake);
      resolve();
    };
    const timer = setTimeout(wake, ms);
    signal.addEventListener('abort', wake);
  });
}
