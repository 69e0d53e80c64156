// Type declarations for stagecast.js (hand-written; the library itself is plain ESM).
// The wire types follow the native protocol in docs/protocol.md ("Events").

// ---------------------------------------------------------------------------------------------
// Wire protocol

/** `paused`: the graph asked a question (an `interrupt` event came before `done`). */
export type RunStatus = 'success' | 'error' | 'cancelled' | 'timeout' | 'paused';

/** Error codes the server sends; clients add NetworkError, ProtocolError, HttpError, HandlerError, Incomplete. */
export type ErrorCode =
  | 'Timeout'
  | 'Cancelled'
  | 'Interrupted'
  | 'UpstreamError'
  | 'RateLimited'
  | 'InternalError'
  | 'BadRequest'
  | 'InvalidJSON'
  | 'ValidationError'
  | 'PayloadTooLarge'
  | 'UnsupportedMediaType'
  | 'NotFound'
  | 'RunNotFound'
  | 'ThreadNotFound'
  | 'UnknownAgent'
  | 'MethodNotAllowed'
  | 'ThreadBusy'
  | 'NothingToResume'
  | 'TooManyRuns'
  | 'ShuttingDown'
  | 'NetworkError'
  | 'ProtocolError'
  | 'HttpError'
  | 'HandlerError'
  | 'Incomplete'
  | (string & {});

export interface StartData {
  run_id: string;
  thread_id: string;
  trace_id: string;
  agent: string;
}

export interface ProgressData {
  node: string;
  stage: string;
  status: 'in_progress' | 'completed';
  message: string;
  step?: number | null;
  total?: number | null;
  /** The node names from the top graph down, e.g. `["research", "search"]` inside a subgraph. */
  path: string[];
}

export interface Source {
  id: string;
  title: string;
  content: string;
  metadata: Record<string, unknown>;
  score: number | null;
}

export interface TokenData {
  content: string;
  node: string;
  message_id: string;
}

export interface ToolCallData {
  id: string;
  name: string;
  args: Record<string, unknown>;
  status: 'started' | 'completed' | 'failed';
  result?: unknown;
}

export interface TableData {
  title: string;
  columns: string[];
  rows: unknown[][];
}

export interface ChartData {
  type: 'line' | 'bar';
  title: string;
  labels: string[];
  series: { name: string; values: number[] }[];
  unit: string;
}

export interface FinalData {
  content: string;
  sources: Source[];
  confidence_score: number | null;
  table_data: TableData | null;
  chart_data: ChartData | null;
  /** The model's token counts, and `finish_reason` when the model gave one. */
  usage: Record<string, number | string> | null;
}

/** One question of a paused graph: what the node passed to `interrupt()`. */
export interface PendingInterrupt {
  id: string;
  value: unknown;
}

export interface InterruptData {
  interrupts: PendingInterrupt[];
}

/** An error event's data; errors the client detects have the same shape. */
export interface ErrorData {
  error: ErrorCode;
  message: string;
  /** Set when the error is an HTTP answer (4xx/5xx) instead of a stream. */
  httpStatus?: number;
}

export interface DoneData {
  status: RunStatus;
  duration_ms: number;
}

/**
 * The run was taken over after its worker was lost. The tokens of `discard_message_ids` are no
 * longer part of the answer; the node that was cut off writes again under a new message id.
 */
export interface RestartData {
  /** 2 for the first takeover, then 3, ... */
  attempt: number;
  /** WorkerLost: its worker stopped renewing its lease; HandedOver: its worker shut down gracefully. */
  reason: 'WorkerLost' | 'HandedOver';
  discard_message_ids: string[];
}

export interface EventDataMap {
  start: StartData;
  progress: ProgressData;
  sources: Source[];
  token: TokenData;
  tool_call: ToolCallData;
  interrupt: InterruptData;
  final: FinalData;
  error: ErrorData;
  done: DoneData;
  restart: RestartData;
}

export type EventType = keyof EventDataMap;

/** One event: the JSON of one SSE `data:` line. */
export type StagecastEvent = {
  [T in EventType]: { type: T; data: EventDataMap[T]; run_id: string; trace_id: string; ts: number };
}[EventType];

/** The body of `POST /api/chat/stream`: exactly one of `message` or `resume`. */
export interface RunRequest {
  message?: string;
  /** The answer to a paused thread's question (not null); needs `conversation_id`. */
  resume?: unknown;
  conversation_id?: string;
  agent?: string;
  user_id?: string;
  custom_prompt?: string;
  llm_config?: { model?: string; temperature?: number; max_tokens?: number };
  history?: { role: string; content: string }[];
  /** Fork the thread from this checkpoint of its history (edit, regenerate: branches.js). */
  checkpoint_id?: string;
}

// ---------------------------------------------------------------------------------------------
// State (the shared reducer)

/**
 * `idle` before start; `connecting` until the response; `streaming` while connected;
 * `reconnecting` between a drop and the rejoin; then one of the RunStatus values.
 */
export type StreamStatus = 'idle' | 'connecting' | 'streaming' | 'reconnecting' | RunStatus;

export interface Stage {
  /** `progress.stage` (e.g. query_analysis, data_retrieval, response_generation). */
  stage: string;
  node: string;
  /** `progress.path`: the node names from the top graph down. */
  path: string[];
  /** path.length - 1: 0 for the top graph's nodes, 1 inside a subgraph, ... */
  depth: number;
  status: 'in_progress' | 'completed';
  /** The latest non-empty message. */
  message: string;
  step: number | null;
  total: number | null;
  /** Server time (ms since the epoch) of the first `in_progress`; null if never seen. */
  startedAt: number | null;
  /** Server time of `completed`; null while in progress. */
  endedAt: number | null;
  /** endedAt - startedAt once completed; null before (or if the start was not seen). */
  durationMs: number | null;
}

export interface StreamState {
  status: StreamStatus;
  runId: string | null;
  threadId: string | null;
  traceId: string | null;
  agent: string | null;
  /** In order of first appearance; a stage that runs again gets a new entry. */
  stages: Stage[];
  /** Every token's content, in order, except the tokens of messages a restart discarded. */
  tokens: string[];
  /** The message_id of each entry of `tokens`. */
  tokenMessageIds: string[];
  /** The tokens joined; replaced by final.content when final arrives. */
  answer: string;
  /** From the `sources` event, or final.sources when that is not empty. */
  sources: Source[];
  /** One entry per tool call id, updated in place as its status changes. */
  toolCalls: ToolCallData[];
  /** The questions a `paused` run waits for (the `interrupt` event); answer with resume(). */
  interrupts: PendingInterrupt[];
  final: FinalData | null;
  error: ErrorData | null;
  /** From `done.duration_ms`. */
  durationMs: number | null;
  /** Server time of `start` and of `done`. */
  startedAt: number | null;
  endedAt: number | null;
  /** 1, then `restart.attempt` after each takeover of the run by another worker. */
  attempt: number;
  /** Whether a `restart` was seen: the run resumed on another worker. */
  restarted: boolean;
  /** The message ids every `restart` so far discarded; their tokens are dropped, also later ones. */
  discardedMessageIds: string[];
}

/** A client status change, for the reducer. */
export interface StatusAction {
  type: 'status';
  status: StreamStatus;
  error?: ErrorData;
}

export type StreamAction = StagecastEvent | StatusAction;

/** The state before anything happened. */
export function initialState(): StreamState;

/** Pure reducer: returns a new state (or the same one for an unknown event type). */
export function reduce(state: StreamState, action: StreamAction): StreamState;

/** Whether a status is final: success, error, cancelled, timeout, paused. */
export function isTerminal(status: StreamStatus): boolean;

// ---------------------------------------------------------------------------------------------
// Client

export interface ReconnectDetail {
  /** 1 for the first rejoin after progress, then 2, 3, ... up to maxRetries. */
  attempt: number;
  /** The wait before this rejoin, in ms. */
  delay: number;
  /** Why the connection was lost. */
  error: ErrorData;
}

/**
 * Every handler is optional. For each event, in this order: onState, onStatus (if the status
 * changed), onEvent, then the handler of its type. None runs before stream()/watchRun() returns.
 * A handler that throws stops the stream and makes `done` reject with that exception.
 */
export interface StreamHandlers {
  onEvent?(event: StagecastEvent): void;
  onStart?(data: StartData, event: StagecastEvent): void;
  onProgress?(data: ProgressData, event: StagecastEvent): void;
  onSources?(data: Source[], event: StagecastEvent): void;
  onToken?(data: TokenData, event: StagecastEvent): void;
  onToolCall?(data: ToolCallData, event: StagecastEvent): void;
  /** The graph asked a question: the run ends `paused`; answer with handle.resume(value). */
  onInterrupt?(data: InterruptData, event: StagecastEvent): void;
  onFinal?(data: FinalData, event: StagecastEvent): void;
  /**
   * The run resumed on another worker after its own was lost. The state's `tokens` and `answer`
   * no longer hold the discarded messages' text (onState has the new state).
   */
  onRestart?(data: RestartData, event: StagecastEvent): void;
  /**
   * The run failed or was stopped: the server's `error` event (with `event`), or an error the
   * client detected (no `event`): HTTP error, network loss after maxRetries, protocol error,
   * client timeout, cancel()/abort().
   */
  onError?(error: ErrorData, event?: StagecastEvent): void;
  /** The server's `done` event. Not called when the client ends the stream: use `done` or onStatus. */
  onDone?(data: DoneData, event: StagecastEvent): void;
  /** Every client status change (`reconnecting` each attempt, with its detail) and each status an event sets. */
  onStatus?(status: StreamStatus, detail?: ReconnectDetail): void;
  /** The accumulated state after every change. */
  onState?(state: StreamState): void;
}

export interface StreamOptions {
  /**
   * Origin and path prefix of the server's API, for the rejoin and cancel endpoints.
   * stream(): derived from the url (everything before <apiPath>/chat/stream). watchRun(): '' (same origin).
   */
  baseUrl?: string;
  /**
   * The path the native routes are mounted at, after baseUrl: '/api' (the default, the service's),
   * or the host app's `url_prefix` when Stagecast is a Flask extension in it (e.g. '/ai').
   */
  apiPath?: string;
  /** Extra request headers (e.g. Authorization) for every request: the POST, rejoins, cancel. */
  headers?: Record<string, string>;
  /** fetch credentials mode (e.g. 'include' for cookies across origins). */
  credentials?: RequestCredentials;
  /** Consecutive rejoins without a new event before giving up. Default 5. */
  maxRetries?: number;
  /** Reconnection time until the server sends `retry:`. Default 1000 ms. */
  retryDelay?: number;
  /** Cap of the exponential backoff (jitter adds up to 50%). Default 30000 ms. */
  maxRetryDelay?: number;
  /**
   * Overall limit from start to end, in ms; 0 for none (the default). On expiry the status is
   * `timeout`, and a run started by stream() is also cancelled on the server.
   */
  timeout?: number;
  /**
   * Drop and rejoin a connection that received no bytes (heartbeats count) for this long.
   * Default 45000 ms (three of the server's default 15 s heartbeats); 0 to disable.
   */
  idleTimeout?: number;
  /** Aborting it is abort(). */
  signal?: AbortSignal;
  /** A fetch implementation; default globalThis.fetch. */
  fetch?: typeof fetch;
}

export interface StreamHandle {
  /** Resolves with the final state when the stream ends (whatever the status); rejects only with a handler's exception. */
  readonly done: Promise<StreamState>;
  /** The current accumulated state. */
  readonly state: StreamState;
  /** From the X-Run-ID header or the first event; null before. */
  readonly runId: string | null;
  /** The id (`<run_id>:<seq>`) of the last event delivered. */
  readonly lastEventId: string | null;
  /** Stops the stream (status `cancelled`) and asks the server to cancel the run. Resolves with whether it accepted. */
  cancel(): Promise<boolean>;
  /** Stops the stream (status `cancelled`) but leaves the run on the server, which can be rejoined. */
  abort(): void;
  /** The questions of a paused run (state.interrupts). */
  readonly interrupts: PendingInterrupt[];
  /**
   * Answers a paused run's questions: starts the run that continues its thread (same base URL
   * and options) and returns its handle. Throws unless this run ended `paused`.
   * @param value any JSON value but null, or `{[interruptId]: value}` for several questions
   * @param handlers default: this run's handlers
   */
  resume(value: unknown, handlers?: StreamHandlers): StreamHandle;
}

/**
 * Starts a run (POST url with the JSON body) and follows its events, rejoining after a drop
 * with Last-Event-ID; the question is never posted twice.
 */
export function stream(
  url: string,
  body: RunRequest,
  handlers?: StreamHandlers,
  options?: StreamOptions,
): StreamHandle;

/**
 * Answers a paused thread's question: stream(url, {conversation_id, resume: value}, ...).
 */
export function resume(
  url: string,
  conversationId: string,
  value: unknown,
  handlers?: StreamHandlers,
  options?: StreamOptions,
): StreamHandle;

/** Follows an existing run from its first event (GET <baseUrl>/api/runs/<runId>/stream). */
export function watchRun(runId: string, handlers?: StreamHandlers, options?: StreamOptions): StreamHandle;
