'use strict';
// The native table as lib/ uses it (lib/native.js): the binding's one
// convention (a call that changes a session returns its state; take* calls
// return what an event left, or null; calls JS should not make throw an
// Error saying what was wrong), the hand-written Node-API entry points
// (src/fast.rs), and bad arguments refused instead of a crash.

const test = require('node:test');
const assert = require('node:assert/strict');

const native = require('../lib/native');
const { REQUEST, POSITIVE } = require('./helpers');

const { table, states, events: kinds, roles } = native;
const events = () => new Uint32Array(native.PREFIX + 16 * native.EVENT_WORDS);
const out = () => Buffer.alloc(native.MAX_CONTROL_FRAME);

/** A called session that has received REQUEST. */
function requested() {
  const id = table.open(roles.CALLED, false, 131071, 30000, 0, 0, 1000);
  assert.equal(table.state(id), states.AWAITING_REQUEST);
  const decoded = events();
  assert.equal(table.feed(id, REQUEST, 0, decoded, 1000), 1);
  assert.equal(decoded[native.PREFIX], kinds.REQUEST);
  assert.equal(decoded[0], REQUEST.length, 'the whole request was read');
  assert.equal(table.takeNames(id), '\u0003DST\u0020\u0000\u0003SRC\u0000\u0000');
  assert.equal(table.takeNames(id), null, 'taken once');
  return id;
}

test('a called session: open, request deadline, feed, accept, end of input, close', () => {
  const before = table.size();
  const id = requested();
  assert.equal(table.size(), before + 1);
  assert.equal(table.state(id), states.AWAITING_DECISION);
  assert.equal(table.accept(id, 1000), states.ESTABLISHED);
  const answer = out();
  assert.equal(table.takeTransmit(id, answer), 4);
  assert.deepEqual(answer.subarray(0, 4), POSITIVE);
  assert.equal(table.takeTransmit(id, answer), 0, 'nothing more queued');
  assert.equal(table.pollTimeout(id), null, 'no deadline once established without idle or keep-alive timers');
  assert.equal(table.frameBatch(id, Buffer.from([0, 0, 0, 1, 0x61]), 5), undefined);
  assert.equal(table.endOfInput(id), states.ESTABLISHED, 'an end between frames is the peer closing');
  table.close(id);
  table.close(id); // twice is harmless
  assert.equal(table.size(), before);
  assert.equal(table.pollTimeout(id), null, 'a closed id has no deadline');
});

test('pollTimeout reports the request deadline the core keeps; handleTimeout fails the session there', () => {
  const id = table.open(roles.CALLED, false, 131071, 30000, 0, 0, 1000);
  assert.equal(table.pollTimeout(id), 31000);
  assert.equal(table.handleTimeout(id, 30999), states.AWAITING_REQUEST, 'early: nothing happens');
  assert.equal(table.takeError(id), null);
  assert.equal(table.handleTimeout(id, 31000), states.FAILED);
  assert.deepEqual({ ...table.takeError(id) }, {
    kind: 'timeout',
    message: 'No complete SESSION REQUEST arrived within 30000 ms (requestTimeout); expected one after connecting',
  });
  table.close(id);
});

test('endOfInput reports a frame cut short as a failure', () => {
  const id = table.open(roles.CALLED, false, 131071, 30000, 0, 0, 1000);
  table.feed(id, REQUEST.subarray(0, 10), 0, events(), 1000);
  assert.equal(table.endOfInput(id), states.FAILED);
  const { kind, message } = table.takeError(id);
  assert.deepEqual([kind, message], ['protocol', 'Connection ended inside a frame: 10 of 72 bytes received']);
  table.close(id);
});

test('bad arguments are refused with an Error that says what was expected', () => {
  const cases = [
    [() => table.feed(), /expected 5 arguments, got 0/],
    [() => table.feed(1, 'text', 0, events(), 1), /expected a Buffer/],
    [() => table.feed(1, Buffer.alloc(4), 0, new Uint8Array(8), 1), /expected a Uint32Array/],
    [() => table.open(7, false, 131071, 0, 0, 0, 1), /unknown role 7/],
    [() => table.open(0), /expected 7 arguments, got 1/],
    [() => table.pollTimeout('1'), /expected a number/],
    [() => table.close({}), /expected a number/],
    [() => table.frameBatch(1, null, 3), /expected a Buffer/],
    [() => table.accept(0x3fffff, 1), /the session is closed/],
    [() => table.connected(0x3fffff, 1), /the session is closed/],
    [() => table.takeTransmit(0x3fffff, out()), /the session is closed/],
    [() => table.openCall(true, false, 65536, 0, 0, 0, 'localhost', 70000, 0, 1), /port 70000 is out of range; expected 1 to 65535/],
    [() => table.openCall(true, false, 65536, 0, 0, 0, 42, 445, 0, 1), /expected a string/],
  ];
  for (const [call, message] of cases) assert.throws(call, { name: 'Error', message });
});

test('commands in the wrong state throw, and change nothing', () => {
  const id = table.open(roles.CALLED, false, 131071, 30000, 0, 0, 1000);
  assert.throws(() => table.accept(id, 1000), { name: 'Error', message: 'Cannot accept while waiting for a SESSION REQUEST' });
  assert.throws(() => table.reject(id, 'Unspecified error', 1000), /Cannot reject/);
  assert.throws(() => table.frameBatch(id, Buffer.from([0, 0, 0, 0]), 4), /Cannot send a SESSION MESSAGE/);
  assert.equal(table.state(id), states.AWAITING_REQUEST);
  table.close(id);
});

test('a chunk and an events array over the same memory are refused', () => {
  const id = table.open(roles.CALLED, false, 131071, 30000, 0, 0, 1000);
  const memory = new ArrayBuffer(256);
  const chunk = new Uint8Array(memory, 0, 128);
  assert.throws(() => table.feed(id, chunk, 0, new Uint32Array(memory, 64, 32), 1000), {
    name: 'Error',
    message: /share memory/,
  });
  // Side by side in one ArrayBuffer is fine.
  Buffer.from(chunk.buffer, 0, REQUEST.length).set(REQUEST);
  assert.equal(table.feed(id, new Uint8Array(memory, 0, REQUEST.length), 0, new Uint32Array(memory, 128, 32), 1000), 1);
  table.close(id);
});

test('an answer that does not fit the output buffer is an error, not an overrun', () => {
  const id = requested();
  table.accept(id, 1000);
  assert.throws(() => table.takeTransmit(id, Buffer.alloc(2)), { name: 'Error', message: /holds 2 bytes; 4 needed/ });
  table.close(id);
});

test('the core picks the reject code: RFC 1002 texts and codes, else Unspecified error', () => {
  for (const [reason, code] of [
    ['Called name not present', 0x82],
    [0x83, 0x83],
    ['no such reason', 0x8f],
    [0x42, 0x8f],
    [undefined, 0x8f],
  ]) {
    const id = requested();
    assert.equal(table.reject(id, reason, 1000), states.ANSWERED);
    const answer = out();
    assert.equal(table.takeTransmit(id, answer), 5);
    assert.deepEqual([...answer.subarray(0, 5)], [0x83, 0, 0, 1, code], String(reason));
    assert.equal(table.pollTimeout(id), 1000 + native.CLOSE_TIMEOUT, 'the close deadline');
    assert.equal(table.handleTimeout(id, 1000 + native.CLOSE_TIMEOUT), states.CLOSED);
    table.close(id);
  }
});

/** takeDial's answer as [host, port]: the host openCall was given, or the address a retarget named. */
function takeDial(id) {
  const words = new Uint32Array(2);
  const port = table.takeDial(id, words);
  return port === null ? null : [words[0] === 0 ? 'the host given' : words[1], port];
}

/** openCall with the usual timers, these names and `fallbacks` (flat triples or undefined). */
function openCall(called, calling, fallbacks) {
  return table.openCall(false, false, 131071, 30000, 0, 0, 'fs.example', 139, 20000, 1000, ...called, ...calling, fallbacks, 4);
}

test('openCall: the core asks to dial, then sends the names in its SESSION REQUEST', () => {
  const id = openCall(['DST', 0x20, ''], ['SRC', 0x00, ''], undefined);
  assert.equal(table.state(id), states.DIALING);
  assert.deepEqual(takeDial(id), ['the host given', 139]);
  assert.equal(table.takeDial(id, new Uint32Array(2)), null, 'one dial per decision');
  assert.equal(table.pollTimeout(id), 21000, 'the setup deadline');
  assert.equal(table.connected(id, 1001), states.AWAITING_RESPONSE);
  const request = out();
  const length = table.takeTransmit(id, request);
  assert.deepEqual(request.subarray(0, length), REQUEST);
  const decoded = events();
  assert.equal(table.feed(id, POSITIVE, 0, decoded, 1002), 1);
  assert.equal(decoded[native.PREFIX], kinds.ESTABLISHED);
  assert.equal(table.state(id), states.ESTABLISHED);
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

test('openCall takes fallback names, called in order after a refusal, each on a new connection', () => {
  const id = openCall(['DST', 0x20, ''], ['SRC', 0, ''], ['*SMBSERVER', 0x20, '', 'ÀÉÎ', 0x20, 'corp.example']);
  const decoded = events();
  const refusal = Buffer.from([0x83, 0, 0, 1, 0x82]); // called name not present
  const attempt = () => {
    assert.deepEqual(takeDial(id), ['the host given', 139], 'the same address each time');
    table.connected(id, 1000);
    table.takeTransmit(id, out());
    assert.equal(table.feed(id, refusal, 0, decoded, 1000), 1);
    return decoded[native.PREFIX];
  };
  assert.equal(attempt(), kinds.FALLBACK);
  assert.equal(table.takeNames(id), '\u000a*SMBSERVER\u0020\u0000');
  assert.equal(attempt(), kinds.FALLBACK);
  assert.equal(table.takeNames(id), '\u0003ÀÉÎ\u0020\u000ccorp.example');
  assert.equal(attempt(), kinds.FAILED, 'no names left: the call has failed');
  assert.equal(table.takeError(id).kind, 'rejected');
  table.close(id);
});

test('a refusal with no name left fails the call with the details 0.1.6 gave', () => {
  const id = openCall(['DST', 0x20, ''], ['SRC', 0, ''], undefined);
  takeDial(id);
  table.connected(id, 1000);
  const decoded = events();
  assert.equal(table.feed(id, Buffer.from([0x83, 0, 0, 1, 0x80]), 0, decoded, 1000), 1);
  assert.equal(decoded[native.PREFIX], kinds.FAILED);
  assert.deepEqual({ ...table.takeError(id) }, {
    kind: 'rejected',
    message: 'Connection failed with response code [Not listening on called name]',
    responseCode: 0x80,
    reason: 'Not listening on called name',
  });
  table.close(id);
});

test('a retarget names where to dial next; one too many is a retarget loop', () => {
  const id = table.openCall(false, false, 131071, 0, 0, 0, '::1', 139, 0, 1000, 'DST', 0x20, '', 'SRC', 0, '', undefined, 1);
  const decoded = events();
  const retarget = (port) => Buffer.from([0x84, 0, 0, 6, 127, 0, 0, 2, port >> 8, port & 0xff]);
  takeDial(id);
  table.connected(id, 1000);
  assert.equal(table.feed(id, retarget(1139), 0, decoded, 1000), 1);
  assert.deepEqual([...decoded.subarray(native.PREFIX, native.PREFIX + 3)], [kinds.RETARGET, 0x7f000002, 1139]);
  assert.deepEqual(takeDial(id), [0x7f000002, 1139]);
  table.connected(id, 1000);
  assert.equal(table.feed(id, retarget(2139), 0, decoded, 1000), 1);
  assert.equal(decoded[native.PREFIX], kinds.FAILED);
  const { kind, host, port } = table.takeError(id);
  assert.deepEqual([kind, host, port], ['retarget-loop', '127.0.0.2', 2139]);
  table.close(id);
});
