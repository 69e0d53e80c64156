// The vendored parser is exactly the pinned npm package's code (regenerate: npm run vendor).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { buildVendoredParser, VENDORED_PATH } from '../scripts/vendor-parser.js';

test('vendor/eventsource-parser.js matches the installed eventsource-parser', () => {
  assert.equal(readFileSync(VENDORED_PATH, 'utf8'), buildVendoredParser());
});

test('the vendored file is self-contained and keeps the MIT license', () => {
  const text = readFileSync(VENDORED_PATH, 'utf8');
  assert.doesNotMatch(text, /^import /m);
  assert.match(text, /MIT License/);
  assert.match(text, /Permission is hereby granted, free of charge/);
});
