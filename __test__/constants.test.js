'use strict';
// Constants exist once: lib/ reads every number it shares with the core
// from the binding's constants() (src/convert.rs, src/lib.rs). These tests
// fail if the binding's numbers contradict the wire contract, or if lib/
// writes one of them out again.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const native = require('../lib/native');

test("the binding's numbers are PROTOCOL.md's", () => {
  assert.equal(native.HEADER_LENGTH, 4);
  assert.equal(native.MAX_MESSAGE_LENGTH, 131071, 'RFC 1002: 17-bit lengths');
  assert.equal(native.MAX_WIDE_MESSAGE_LENGTH, 16777215, 'MS-SMB2 direct TCP: 24-bit lengths');
  assert.equal(native.DEFAULT_PORT, 139);
  assert.equal(native.CLOSE_TIMEOUT, 30000, "RFC 1002's SSN_CLOSE_TIMEOUT");
  assert.equal(native.DEFAULT_MAX_RETARGETS, 4, "RFC 1002's SSN_RETRY_COUNT");
  assert.equal(native.DEFAULT_CALLED_SUFFIX, 0x20);
  assert.equal(native.DEFAULT_CALLING_SUFFIX, 0x00);
  assert.equal(native.MAX_CONTROL_FRAME, 4 + 2 * 255, 'a SESSION REQUEST with two longest names');
});

test('states, event kinds and roles are distinct numbers', () => {
  for (const group of ['states', 'events', 'roles']) {
    const numbers = Object.values(native[group]);
    assert.ok(numbers.length > 1, group);
    assert.equal(new Set(numbers).size, numbers.length, `${group}: ${JSON.stringify(native[group])}`);
    for (const number of numbers) assert.ok(Number.isInteger(number) && number >= 0, group);
  }
  assert.ok(!Object.values(native.events).includes(0), 'an event kind is never 0 (an unused slot)');
  for (const kind of Object.keys(native.frames)) assert.ok(Object.values(native.events).includes(Number(kind)));
});

test("lib/ does not write out again a number the binding exports", () => {
  const shared = ['MAX_MESSAGE_LENGTH', 'MAX_WIDE_MESSAGE_LENGTH', 'DEFAULT_PORT', 'DEFAULT_TIMEOUT', 'DEFAULT_REQUEST_TIMEOUT', 'CLOSE_TIMEOUT', 'MAX_CONTROL_FRAME'];
  const lib = path.join(__dirname, '..', 'lib');
  for (const file of fs.readdirSync(lib).filter((name) => name.endsWith('.js'))) {
    const source = fs.readFileSync(path.join(lib, file), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, ''); // code only, not comments
    for (const name of shared) {
      const value = native[name];
      const written = new RegExp(`(?<![\\w.])(${value}|0x0*${value.toString(16)})(?![\\w.])`, 'i');
      assert.doesNotMatch(source, written, `lib/${file} writes ${name} (${value}) itself`);
    }
  }
});
