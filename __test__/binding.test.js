'use strict';
// The native table as lib/session.js uses it (lib/native.js): results of the
// hand-written Node-API entry points (src/fast.rs), and bad arguments
// refused with a TypeError instead of a crash.

const test = require('node:test');
const assert = require('node:assert/strict');

const native = require('../lib/native');
const { REQUEST } = require('./helpers');

const { table } = native;
const events = () => new Uint32Array(native.PREFIX + 16 * native.EVENT_WORDS);

/** A called session that has received REQUEST. */
function requested() {
  const id = table.open(native.ROLE_CALLED, false, 131071, 30000, 0, 0, 1000);
  const out = events();
  assert.equal(table.feed(id, REQUEST, 0, out, 1000), 1);
  assert.equal(out[native.PREFIX], native.REQUEST);
  assert.equal(out[0], REQUEST.length, 'the whole request was read');
  return id;
}

test('a called session: open, request deadline, feed, accept, end of input, close', () => {
  const before = table.size();
  const id = requested();
  assert.equal(table.size(), before + 1);
  const answer = Buffer.alloc(native.MAX_ANSWER_FRAME);
  assert.equal(table.accept(id, 1000, answer), 4);
  assert.deepEqual([...answer.subarray(0, 4)], [0x82, 0, 0, 0]);
  assert.equal(table.pollTimeout(id), null, 'no deadline once established without idle or keep-alive timers');
  assert.equal(table.frameBatch(id, Buffer.from([0, 0, 0, 1, 0x61]), 5), null);
  assert.equal(table.endOfInput(id), null);
  table.close(id);
  table.close(id); // twice is harmless
  assert.equal(table.size(), before);
  assert.equal(table.pollTimeout(id), null, 'a closed id has no deadline');
});

test('pollTimeout reports the request deadline the core keeps', () => {
  const id = table.open(native.ROLE_CALLED, false, 131071, 30000, 0, 0, 1000);
  assert.equal(table.pollTimeout(id), 31000);
  table.close(id);
});

test('endOfInput reports a frame cut short', () => {
  const id = table.open(native.ROLE_CALLED, false, 131071, 30000, 0, 0, 1000);
  table.feed(id, REQUEST.subarray(0, 10), 0, events(), 1000);
  assert.equal(table.endOfInput(id), "Connection ended inside a frame: 10 of 72 bytes received");
  table.close(id);
});

test('bad arguments are refused with a TypeError that says what was expected', () => {
  const cases = [
    [() => table.feed(), /expected 5 arguments, got 0/],
    [() => table.feed(1, 'text', 0, events(), 1), /expected a Buffer/],
    [() => table.feed(1, Buffer.alloc(4), 0, new Uint8Array(8), 1), /expected a Uint32Array/],
    [() => table.open(7, false, 131071, 0, 0, 0, 1), /unknown role 7/],
    [() => table.open(0), /expected 7 arguments, got 1/],
    [() => table.pollTimeout('1'), /expected a number/],
    [() => table.close({}), /expected a number/],
    [() => table.frameBatch(1, null, 3), /expected a Buffer/],
    [() => table.accept(0x3fffff, 1, Buffer.alloc(16)), /the session is closed/],
    [() => table.request(0x3fffff, Buffer.alloc(16)), /the session is closed/],
  ];
  for (const [call, message] of cases) assert.throws(call, { name: 'TypeError', message });
});

test('a chunk and an events array over the same memory are refused', () => {
  const id = table.open(native.ROLE_CALLED, false, 131071, 30000, 0, 0, 1000);
  const memory = new ArrayBuffer(256);
  const chunk = new Uint8Array(memory, 0, 128);
  assert.throws(() => table.feed(id, chunk, 0, new Uint32Array(memory, 64, 32), 1000), {
    name: 'TypeError',
    message: /share memory/,
  });
  // Side by side in one ArrayBuffer is fine.
  Buffer.from(chunk.buffer, 0, REQUEST.length).set(REQUEST);
  assert.equal(table.feed(id, new Uint8Array(memory, 0, REQUEST.length), 0, new Uint32Array(memory, 128, 32), 1000), 1);
  table.close(id);
});

test('an answer that does not fit the output buffer is an error, not an overrun', () => {
  const id = requested();
  assert.throws(() => table.accept(id, 1000, Buffer.alloc(2)), { name: 'TypeError', message: /holds 2 bytes; 4 needed/ });
  table.close(id);
});

/** openCall with the usual timers, these names and `fallbacks` (flat triples or undefined). */
function openCall(called, calling, fallbacks) {
  return table.openCall(false, 131071, 30000, 0, 0, ...called, ...calling, fallbacks, 4, 20000, 1000);
}

test('openCall reads the names and the call sends them in its SESSION REQUEST', () => {
  const id = openCall(['DST', 0x20, ''], ['SRC', 0x00, ''], undefined);
  const out = Buffer.alloc(native.MAX_CONTROL_FRAME);
  const length = table.request(id, out);
  assert.deepEqual(out.subarray(0, length), REQUEST);
  assert.equal(table.pollTimeout(id), 21000, 'the setup deadline');
  table.close(id);
});

test('openCall refuses names the core refuses, and names that are not bytes', () => {
  const longScope = Array(40).fill('label').join('.'); // 239 characters, over 255 bytes encoded
  const hugeScope = 'x'.repeat(5000); // longer than the binding's first read
  const cases = [
    [() => openCall(['ABCDEFGHIJKLMNOP', 0x20, ''], ['SRC', 0, ''], undefined), /16 bytes long; expected at most 15/],
    [() => openCall(['DST', 0x20, longScope], ['SRC', 0, ''], undefined), /longer than 255 bytes/],
    [() => openCall(['DST', 0x20, hugeScope], ['SRC', 0, ''], undefined), /5000 bytes long; expected at most 63/],
    [() => openCall(['DST', 0x20, ''], ['名前', 0, ''], undefined), /"名前" has a character outside Latin-1/],
    [() => openCall(['DST', 256, ''], ['SRC', 0, ''], undefined), /suffix 256 is out of range/],
    [() => openCall(['DST', 0x20, ''], ['SRC', 0, ''], ['FB', 0x20]), /\(name, suffix, scope\) triples/],
    [() => openCall(['DST', 0x20, ''], ['SRC', 0, ''], 'FB'), /expected the fallback names as an array/],
    [() => openCall(['DST', 0x20, ''], [42, 0, ''], undefined), /expected a string/],
  ];
  const before = table.size();
  for (const [call, message] of cases) assert.throws(call, { message });
  assert.equal(table.size(), before, 'nothing was opened');
});

test('openCall takes fallback names, called in order after a refusal', () => {
  const id = openCall(['DST', 0x20, ''], ['SRC', 0, ''], ['*SMBSERVER', 0x20, '', 'ÀÉÎ', 0x20, 'corp.example']);
  const out = Buffer.alloc(native.MAX_CONTROL_FRAME);
  table.request(id, out);
  // A NEGATIVE 0x82 (called name not present) moves on to the next name.
  assert.equal(table.negative(id, 0x82), '\u000a*SMBSERVER\u0020\u0000');
  assert.equal(table.negative(id, 0x82), '\u0003ÀÉÎ\u0020\u000ccorp.example');
  assert.equal(table.negative(id, 0x82), null, 'no names left: the call has failed');
  table.close(id);
});
