// Reading an event stream body: bytes -> UTF-8 text -> SSE messages.
// The line grammar (CR, LF and CRLF line ends, `data` joining, comments, `id`, `retry`, the
// leading BOM) is the vendored eventsource-parser's job; this module only decodes and feeds it.
// Spec references are to WHATWG HTML, "Server-sent events" (section 9.2).
import { createParser } from './vendor/eventsource-parser.js';

/**
 * @typedef {{ message: { id?: string, event?: string, data: string } } | { retry: number }} StreamItem
 */

/**
 * Yields the messages and `retry` values of one response body, in stream order.
 *
 * Ends when the body ends. An event not yet terminated by a blank line at that point is
 * discarded, as the spec requires ("If the file ends in the middle of an event, before the
 * final empty line, the incomplete event is not dispatched"): the parser is never flushed.
 * Breaking out of the loop cancels the body.
 *
 * @param {ReadableStream<Uint8Array>} body
 * @param {{ onBytes?: () => void }} [options] onBytes runs for every chunk read, before it is
 *   parsed (heartbeat comments count: they are how a live but quiet stream shows it is alive).
 * @returns {AsyncGenerator<StreamItem, void, undefined>}
 */
export async function* readEventStream(body, { onBytes } = {}) {
  // "Event streams are always decoded as UTF-8." Stream mode keeps a multi-byte character that
  // is split across chunks. ignoreBOM leaves the BOM to the parser, which strips exactly one, as
  // the stream grammar allows one ("stream = [ bom ] *event").
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  /** @type {StreamItem[]} */
  let pending = [];
  const parser = createParser({
    onEvent: (message) => pending.push({ message }),
    onRetry: (retry) => pending.push({ retry }),
  });
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      onBytes?.();
      parser.feed(decoder.decode(value, { stream: true }));
      const items = pending;
      pending = [];
      yield* items;
    }
  } finally {
    // Stops the download when the consumer leaves early; a no-op on an ended body.
    reader.cancel().catch(() => {});
  }
}
