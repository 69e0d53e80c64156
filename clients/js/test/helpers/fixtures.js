// Recorded streams (test/fixtures/*.sse, bytes exactly as the server frames them) and small
// helpers to replay them.
import { readFileSync } from 'node:fs';

import { readEventStream } from '../../sse.js';

/** @returns {Buffer} the recorded bytes of test/fixtures/<name>.sse */
export function fixture(name) {
  return readFileSync(new URL(`../fixtures/${name}.sse`, import.meta.url));
}

/**
 * An independent reading of a recorded stream, using only what the server promises
 * (LF line ends, `id:` then `data:` lines, blank line after each message), for checking the
 * real parser against.
 * @returns {{retry: number, messages: {id: string, data: string}[]}}
 */
export function oracle(bytes) {
  const blocks = bytes.toString('utf8').split('\n\n').filter(Boolean);
  const retry = Number(blocks[0].replace('retry: ', ''));
  const messages = blocks
    .filter((block) => block.startsWith('id: '))
    .map((block) => {
      const [idLine, dataLine] = block.split('\n');
      return { id: idLine.slice('id: '.length), data: dataLine.slice('data: '.length) };
    });
  return { retry, messages };
}

/** The wire events of a recorded stream, parsed. */
export function eventsOf(name) {
  return oracle(fixture(name)).messages.map((m) => JSON.parse(m.data));
}

/** A ReadableStream that yields the given byte chunks. */
export function bodyOf(chunks, { onCancel } = {}) {
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(new Uint8Array(chunks[i++]));
      else controller.close();
    },
    cancel: onCancel,
  });
}

/** Everything readEventStream yields for the chunks, as plain objects. */
export async function readAll(chunks) {
  const items = [];
  for await (const item of readEventStream(bodyOf(chunks))) items.push(item);
  return items;
}
