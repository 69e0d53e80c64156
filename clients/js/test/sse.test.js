// readEventStream: bytes in any chunking -> the same messages (WHATWG HTML 9.2.6,
// "Interpreting an event stream").
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { readEventStream } from '../sse.js';
import { bodyOf, fixture, oracle, readAll } from './helpers/fixtures.js';

const FIXTURES = ['ko-inventory', 'en-tool-error'];
const enc = (text) => Buffer.from(text, 'utf8');

/** What a correct reading of a recorded stream yields: the retry, then every message. */
function expectedItems(bytes) {
  const { retry, messages } = oracle(bytes);
  return [{ retry }, ...messages.map(({ id, data }) => ({ message: { id, event: undefined, data } }))];
}

/** Every way to cut the bytes in two, read; each must equal the whole. */
async function assertEverySplitPoint(bytes, expected) {
  for (let at = 0; at <= bytes.length; at += 1) {
    const items = await readAll([bytes.subarray(0, at), bytes.subarray(at)]);
    assert.deepEqual(items, expected, `split at byte ${at}`);
  }
}

const withLineEnds = (bytes, eol) => enc(bytes.toString('utf8').replaceAll('\n', eol));

describe('recorded streams', () => {
  for (const name of FIXTURES) {
    test(`${name}: one chunk gives every message, in order`, async () => {
      const bytes = fixture(name);
      assert.deepEqual(await readAll([bytes]), expectedItems(bytes));
    });

    test(`${name}: every split point gives the identical list`, async () => {
      const bytes = fixture(name);
      await assertEverySplitPoint(bytes, expectedItems(bytes));
    });

    test(`${name}: one byte at a time gives the identical list`, async () => {
      const bytes = fixture(name);
      const chunks = [...bytes].map((b) => [b]);
      assert.deepEqual(await readAll(chunks), expectedItems(bytes));
    });
  }

  test('a Korean character split between chunks arrives whole', async () => {
    const bytes = fixture('ko-inventory');
    const text = bytes.toString('utf8');
    // The first byte offset that falls inside a Hangul syllable (3 bytes in UTF-8).
    const at = Buffer.byteLength(text.slice(0, text.indexOf('질문'))) + 1;
    assert.equal(bytes[at] & 0xc0, 0x80, 'the cut is on a continuation byte');
    const items = await readAll([bytes.subarray(0, at), bytes.subarray(at)]);
    assert.deepEqual(items, expectedItems(bytes));
    assert.ok(!items.some((item) => item.message?.data.includes('\uFFFD')));
    assert.equal(JSON.parse(items[2].message.data).data.message, '질문을 분석하고 있습니다');
  });
});

describe('line ends: "a pair of CRLF, a single LF, or a single CR"', () => {
  for (const [label, eol] of [
    ['CRLF', '\r\n'],
    ['CR', '\r'],
  ]) {
    test(`${label} at every split point gives the same list as LF`, async () => {
      const lf = fixture('en-tool-error');
      await assertEverySplitPoint(withLineEnds(lf, eol), expectedItems(lf));
    });
  }

  test('mixed line ends in one stream', async () => {
    const items = await readAll([
      enc('id: r:1\r\ndata: {"a":1}\r\rid: r:2\ndata: {"a":2}\r\n\ndata: x\r\n\r\n'),
    ]);
    assert.deepEqual(
      items.map((i) => i.message),
      [
        { id: 'r:1', event: undefined, data: '{"a":1}' },
        { id: 'r:2', event: undefined, data: '{"a":2}' },
        { id: undefined, event: undefined, data: 'x' },
      ],
    );
  });

  test('a CR at the end of a chunk followed by LF is one line end, not two', async () => {
    const items = await readAll([enc('data: a\r'), enc('\ndata: b\r\n\r\n')]);
    assert.deepEqual(
      items.map((i) => i.message.data),
      ['a\nb'],
    );
  });
});

describe('fields', () => {
  test('several data lines are joined with LF', async () => {
    const items = await readAll([enc('data: first\ndata:second\ndata\ndata:  indented\n\n')]);
    // "If value starts with a U+0020 SPACE character, remove it"; a line without a colon is a field with an empty value.
    assert.equal(items[0].message.data, 'first\nsecond\n\n indented');
  });

  test('comments and heartbeats are ignored, even between the lines of one event', async () => {
    const items = await readAll([
      enc(': heartbeat\n\nid: r:1\n: inside\ndata: {"x":1}\n\n:\n\n: heartbeat\n\n'),
    ]);
    assert.deepEqual(items, [{ message: { id: 'r:1', event: undefined, data: '{"x":1}' } }]);
  });

  test('retry with ASCII digits is reported; any other value is ignored', async () => {
    const items = await readAll([enc('retry: 1500\n\nretry: 1.5s\n\nretry: -1\n\nretry:250\n\n')]);
    assert.deepEqual(items, [{ retry: 1500 }, { retry: 250 }]);
  });

  test('an id with NUL is ignored ("If the field value does not contain U+0000 NULL")', async () => {
    const items = await readAll([enc('id: a\0b\ndata: x\n\n')]);
    assert.equal(items[0].message.id, undefined);
  });

  test('a block without data dispatches no event ("If the data buffer is an empty string ... return")', async () => {
    assert.deepEqual(await readAll([enc('id: r:1\n\nevent: x\n\n')]), []);
  });
});

describe('the start and the end of a stream', () => {
  test('one leading BOM is stripped, even when its bytes are split', async () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), enc('data: 1\n\n')]);
    for (let at = 0; at <= 4; at += 1) {
      const items = await readAll([bytes.subarray(0, at), bytes.subarray(at)]);
      assert.deepEqual(
        items,
        [{ message: { id: undefined, event: undefined, data: '1' } }],
        `split at ${at}`,
      );
    }
  });

  test('only one BOM is stripped: a second one starts an unknown field', async () => {
    const bytes = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf]),
      enc('data: 1\n\ndata: 2\n\n'),
    ]);
    assert.deepEqual(
      (await readAll([bytes])).map((i) => i.message.data),
      ['2'],
    );
  });

  test('an incomplete final event is discarded', async () => {
    const complete = 'id: r:1\ndata: {"n":1}\n\n';
    for (const tail of ['id: r:2\ndata: {"n":2}\n', 'id: r:2\ndata: {"n":2}', 'id: r:2\nda', 'id: r:2\n']) {
      const items = await readAll([enc(complete + tail)]);
      assert.deepEqual(
        items.map((i) => i.message.id),
        ['r:1'],
        JSON.stringify(tail),
      );
    }
  });

  test('a recorded stream cut anywhere yields exactly what was complete before the cut', async () => {
    const bytes = fixture('en-tool-error');
    const [retry, ...messages] = expectedItems(bytes);
    // Byte offsets where each message's blank line ends.
    const ends = [];
    let offset = 0;
    for (const block of bytes.toString('utf8').split('\n\n')) {
      offset += Buffer.byteLength(block) + 2;
      if (block.startsWith('id: ')) ends.push(offset);
    }
    for (let at = 0; at <= bytes.length; at += 1) {
      const items = await readAll([bytes.subarray(0, at)]);
      // A field takes effect when its line ends; an event only when its blank line does.
      const expected = [
        ...(at >= 'retry: 2000\n'.length ? [retry] : []),
        ...messages.filter((_, i) => ends[i] <= at),
      ];
      assert.deepEqual(items, expected, `cut at ${at}`);
    }
  });

  test('leaving the loop early cancels the body', async () => {
    let cancelled = false;
    const body = bodyOf([enc('data: 1\n\ndata: 2\n\n'), enc('data: 3\n\n')], {
      onCancel: () => {
        cancelled = true;
      },
    });
    for await (const item of readEventStream(body)) {
      assert.equal(item.message.data, '1');
      break;
    }
    assert.equal(cancelled, true);
  });

  test('onBytes runs for every chunk, comments included', async () => {
    let chunks = 0;
    const body = bodyOf([enc(': heartbeat\n\n'), enc(': heartbeat\n\n'), enc('data: 1\n\n')]);
    const items = [];
    for await (const item of readEventStream(body, { onBytes: () => (chunks += 1) })) items.push(item);
    assert.equal(chunks, 3);
    assert.equal(items.length, 1);
  });
});
