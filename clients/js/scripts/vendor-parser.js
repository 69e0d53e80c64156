// Regenerates vendor/eventsource-parser.js from the installed `eventsource-parser` package:
// its dist/errors.js and dist/parse.js joined into one ES module, code unchanged, under the
// package's MIT license. The browser loads the vendored file by a relative path, so the
// served client needs no node_modules. `npm run vendor` rewrites it; test/vendor.test.js
// fails when it no longer matches the installed (pinned) version.
//
// Why 4.x: 3.1.1, the last 3.x, loses the final event of a CR-terminated stream
// ("data: b\r\r" at the end) and keeps a decoded U+FEFF BOM; 4.1.3 gets both right (measured;
// test/sse.test.js checks them). 4.x declares Node >= 22.12 for its own tooling and its
// TransformStream export (not vendored); the parser code vendored here runs on Node 20.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const VENDORED_PATH = join(here, '..', 'vendor', 'eventsource-parser.js');

/** @returns {string} the text the vendored file must have. */
export function buildVendoredParser() {
  const require = createRequire(import.meta.url);
  const pkgDir = dirname(require.resolve('eventsource-parser/package.json'));
  const read = (name) => readFileSync(join(pkgDir, name), 'utf8');
  const { version } = JSON.parse(read('package.json'));
  const license = read('LICENSE').trim();
  const strip = (code) =>
    code
      .replace(/^import \{ ParseError \} from '\.\/errors\.js';\n/m, '')
      .replace(/^\/\/# sourceMappingURL=.*$/m, '')
      .trimEnd();
  const header = [
    `eventsource-parser ${version}, vendored by clients/js/scripts/vendor-parser.js:`,
    'dist/errors.js and dist/parse.js of the npm package joined into one ES module, unchanged.',
    'https://github.com/rexxars/eventsource-parser',
    '',
    ...license.split('\n'),
  ];
  return [
    '/*!',
    ...header.map((line) => (line ? ` * ${line}` : ' *')),
    ' */',
    strip(read('dist/errors.js')),
    strip(read('dist/parse.js')),
    '',
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(VENDORED_PATH, buildVendoredParser());
}
