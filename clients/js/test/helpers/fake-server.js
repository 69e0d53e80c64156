// A local node:http stand-in for the Stagecast server, replaying one recorded stream. It speaks
// the wire contract (POST /api/chat/stream, GET /api/runs/<id>/stream with Last-Event-ID,
// POST /api/runs/<id>/cancel) and misbehaves on request: each connection (the POST, then each
// rejoin, in order) follows the plan given for it.
import { createServer } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';

/**
 * @typedef {object} ConnectionPlan
 * @property {number} [dropAfter] cut the connection after this many events (socket destroyed)
 * @property {number} [endAfter] end the response cleanly after this many events (no `done`)
 * @property {number} [stallAfter] send nothing more after this many events, keeping it open
 * @property {number} [pauseAfter] after this many events, wait `pauseMs`, then go on
 * @property {number} [pauseMs]
 * @property {number} [heartbeatMs] while stalled or paused, a heartbeat comment this often
 * @property {number} [status] answer this status instead of a stream: 204 (on a rejoin), or an
 *   error with a JSON body `{success: false, error, message}`
 * @property {number} [replay] on a rejoin, start this many events before Last-Event-ID (a sloppy server)
 * @property {number} [chunkBytes] write each message in pieces of this many bytes
 */

/**
 * @param {Buffer} recorded a recorded stream (test/fixtures)
 * @param {{plans?: ConnectionPlan[], retryMs?: number, paceMs?: number, resumed?: Buffer}} [options]
 *   `resumed`: the recorded stream a POST with `resume` (answering a paused run) is answered with
 */
export async function startFakeServer(recorded, { plans = [], retryMs = 1, paceMs = 0, resumed } = {}) {
  const blocks = parseBlocks(recorded.toString('utf8'));
  const events = blocks.filter((b) => b.seq !== undefined);
  const runId = events[0].id.split(':')[0];
  const log = { posts: [], rejoins: [], cancels: [], drops: [], closedEarly: 0 };
  let connection = 0;

  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://localhost');
    const body = await readBody(req);
    if (req.method === 'POST' && url.pathname === '/api/chat/stream') {
      log.posts.push({ headers: req.headers, body: JSON.parse(body) });
      if (resumed && 'resume' in JSON.parse(body)) {
        res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8' });
        return res.end(resumed);
      }
      return stream(req, res, 0, plans[connection++] ?? {});
    }
    const match = /^\/api\/runs\/([^/]+)\/(stream|cancel)$/.exec(url.pathname);
    if (match && decodeURIComponent(match[1]) !== runId) return json(res, 404);
    if (match?.[2] === 'cancel' && req.method === 'POST') {
      log.cancels.push({ runId: decodeURIComponent(match[1]), headers: req.headers });
      return json(res, 202);
    }
    if (match?.[2] === 'stream' && req.method === 'GET') {
      const lastEventId = req.headers['last-event-id'] ?? url.searchParams.get('last_event_id') ?? undefined;
      log.rejoins.push({ lastEventId, headers: req.headers, at: Date.now() });
      const plan = plans[connection++] ?? {};
      const after = lastEventId ? Number(lastEventId.split(':')[1]) : 0;
      if (plan.status === 204 || after >= events.length) {
        res.writeHead(204).end();
        return undefined;
      }
      const from = blocks.indexOf(events[Math.max(0, after - (plan.replay ?? 0))]);
      return stream(req, res, from, plan);
    }
    return json(res, 404);
  });

  async function stream(req, res, from, plan) {
    if (plan.status) return json(res, plan.status);
    let open = true;
    let heartbeat;
    res.on('close', () => {
      open = false;
      clearInterval(heartbeat);
      if (!res.writableFinished) log.closedEarly += 1;
    });
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache',
      'X-Run-ID': runId,
      'X-Trace-ID': 'trace',
    });
    await write(res, `retry: ${retryMs}\n\n`);
    const heartbeats = (ms) => {
      if (ms) heartbeat = setInterval(() => res.write(': heartbeat\n\n'), ms);
    };
    let sent = 0;
    for (const block of blocks.slice(from)) {
      if (!open) return undefined;
      if (sent === plan.dropAfter) {
        log.drops.push(Date.now());
        return res.socket.destroy();
      }
      if (sent === plan.endAfter) return res.end();
      if (sent === plan.stallAfter) {
        heartbeats(plan.heartbeatMs);
        return undefined;
      }
      if (sent === plan.pauseAfter) {
        heartbeats(plan.heartbeatMs);
        await delay(plan.pauseMs);
        clearInterval(heartbeat);
      }
      if (paceMs) await delay(paceMs);
      await write(res, block.text, plan.chunkBytes);
      if (block.seq !== undefined) sent += 1;
    }
    res.end();
    return undefined;
  }

  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${server.address().port}`;
  return {
    origin,
    url: `${origin}/api/chat/stream`,
    runId,
    events,
    log,
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Splits a recorded stream into its messages and comments, keeping the exact text of each. */
function parseBlocks(text) {
  return text
    .split('\n\n')
    .filter((block) => block && !block.startsWith('retry:'))
    .map((block) => {
      const id = block.startsWith('id: ') ? block.split('\n')[0].slice(4) : undefined;
      return { text: `${block}\n\n`, id, seq: id && Number(id.split(':')[1]) };
    });
}

/** Writes and waits until the bytes are handed to the socket; optionally in small pieces. */
async function write(res, text, chunkBytes) {
  const bytes = Buffer.from(text);
  const size = chunkBytes ?? bytes.length;
  for (let at = 0; at < bytes.length; at += size) {
    await new Promise((resolve) => res.write(bytes.subarray(at, at + size), resolve));
    if (chunkBytes) await delay(1);
  }
}

const ERROR_CODES = { 400: 'ValidationError', 404: 'RunNotFound', 429: 'TooManyRuns', 503: 'ShuttingDown' };

function json(res, status) {
  const headers = { 'Content-Type': 'application/json' };
  if (status === 429 || status === 503) headers['Retry-After'] = '0';
  const code = ERROR_CODES[status];
  const body = code ? { success: false, error: code, message: `${code} (test)` } : { success: true };
  res.writeHead(status, headers).end(JSON.stringify(body));
}

function readBody(req) {
  return new Promise((resolve) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}
