'use strict';
// index.d.ts must describe the real API: a typed usage file (with misuse that
// must be rejected, via @ts-expect-error) is compiled with tsc --noEmit.

const test = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('child_process');
const path = require('path');

test('index.d.ts passes tsc --noEmit on a typed usage file', () => {
  const tsc = require.resolve('typescript/bin/tsc');
  const project = path.join(__dirname, 'types');
  const result = spawnSync(process.execPath, [tsc, '--noEmit', '-p', project], { encoding: 'utf8' });
  assert.equal(result.status, 0, `tsc reported:\n${result.stdout}${result.stderr}`);
});
