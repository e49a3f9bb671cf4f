'use strict';
// COMPAT.md "where we deliberately differ", point 7 (strict state machine)
// and point 4's request-whose-names-do-not-parse case. Every frame that is
// not legal in the current state is a protocol error: an Error with code
// ERR_NETBIOS_PROTOCOL whose message names what arrived and what was
// expected, the TCP connection closed, and nothing thrown. Real TCP on
// 127.0.0.1; the peer is raw and sends hand-built bytes.

const test = require('node:test');
const assert = require('node:assert/strict');

const {
  REQUEST,
  POSITIVE,
  encodeName,
  requestFrame,
  messageFrame,
  closed,
  fromHex,
  settle,
  watchUncaught,
  callbackPromise,
  callerAwaitingResponse,
  establishedCaller,
  calledWithRawClient,
  establishedCalled,
} = require('./helpers');

/** A called node whose attach() callback result is `attached` (a promise of its arguments). */
async function calledWithCallback(t, options, onRequest) {
  const attached = callbackPromise('the attach callback');
  const c = await calledWithRawClient(t, options, (session, socket) => {
    session.attach(socket, (error, request) => {
      if (onRequest && request) onRequest(request);
      attached.callback(error, request);
    });
  });
  return { ...c, attached: attached.promise };
}

/**
 * The common assertions: an ERR_NETBIOS_PROTOCOL Error, the raw peer's
 * socket closed, and, once things settle, no uncaught exception.
 */
async function assertFailedAndClosed({ error, peer, uncaught }) {
  assert.ok(error instanceof Error, `expected an Error, got ${error}`);
  assert.equal(error.code, 'ERR_NETBIOS_PROTOCOL');
  await closed(peer);
  await settle();
  assert.deepEqual(uncaught.stop(), [], 'no uncaught exception or unhandled rejection');
}

/**
 * The message names what arrived and what was expected: it matches every
 * pattern. Checked last in each test, so a wording problem does not hide
 * the behaviour checks above it.
 */
function assertNamesArrivedAndExpected(error, patterns) {
  for (const pattern of patterns) assert.match(error.message, pattern);
}

/**
 * The raw `peer` of an established session `c` writes `bytes`: one 'error',
 * a protocol error; the socket closes and nothing is thrown. Resolves with
 * the error.
 */
async function establishedFailsOn(c, peer, bytes, uncaught) {
  peer.write(bytes);
  const [[error]] = await c.events.count('error', 1);
  await assertFailedAndClosed({ error, peer, uncaught });
  assert.equal(c.events.of('error').length, 1);
  return error;
}

/**
 * A called node's raw client sends `bytes` instead of a valid SESSION
 * REQUEST: the attach callback gets a protocol error and no request, the
 * socket closes, nothing is thrown and nothing goes to 'error'. Resolves
 * with the error and the recorded session events.
 */
async function attachFailsOn(t, bytes) {
  const uncaught = watchUncaught(t);
  const c = await calledWithCallback(t, null);
  c.client.write(bytes);
  const [error, request] = await c.attached;
  assert.equal(request, undefined);
  await assertFailedAndClosed({ error, peer: c.client, uncaught });
  assert.equal(c.events.of('error').length, 0, 'reported once, through the attach callback');
  return { error, events: c.events };
}

test('COMPAT.md point 7: a SESSION MESSAGE to a called node before any SESSION REQUEST is a protocol error naming both, and the socket closes', async (t) => {
  const { error, events } = await attachFailsOn(t, messageFrame(Buffer.from('too early')));
  assert.equal(events.of('connect').length, 0);
  assertNamesArrivedAndExpected(error, [/SESSION MESSAGE/, /expected/, /expected.*SESSION REQUEST/]);
});

test('COMPAT.md point 7: a second SESSION REQUEST after establishment is a protocol error (\'error\'), and the socket closes', async (t) => {
  const uncaught = watchUncaught(t);
  const c = await establishedCalled(t);
  const error = await establishedFailsOn(c, c.client, REQUEST, uncaught);
  assert.equal(c.events.of('message').length, 0);
  assertNamesArrivedAndExpected(error, [/SESSION REQUEST/, /expected/, /expected.*SESSION MESSAGE/]);
});

test('COMPAT.md point 7: a SESSION MESSAGE to a caller waiting for its response fails the connect callback, and the socket closes', async (t) => {
  const uncaught = watchUncaught(t);
  const c = await callerAwaitingResponse(t);
  c.peer.write(messageFrame(Buffer.from('not a response')));
  const [error] = await c.connected;
  await assertFailedAndClosed({ error, peer: c.peer, uncaught });
  assert.equal(c.events.of('error').length, 0, 'reported once, through the connect callback');
  assert.equal(c.events.of('connect').length, 0);
  assert.equal(c.events.of('message').length, 0);
  assertNamesArrivedAndExpected(error, [/SESSION MESSAGE/, /expected/, /expected.*RESPONSE/]);
});

test('COMPAT.md point 7: a POSITIVE SESSION RESPONSE to an established session is a protocol error (\'error\'), and the socket closes', async (t) => {
  const uncaught = watchUncaught(t);
  const c = await establishedCaller(t);
  const error = await establishedFailsOn(c, c.peer, POSITIVE, uncaught);
  assert.equal(c.events.of('connect').length, 1);
  assertNamesArrivedAndExpected(error, [/POSITIVE SESSION RESPONSE/, /expected/, /expected.*SESSION MESSAGE/]);
});

test('COMPAT.md point 7: a SESSION MESSAGE pipelined right after the request waits for a late accept(), then arrives after connect', async (t) => {
  const uncaught = watchUncaught(t);
  let held = null;
  const c = await calledWithCallback(t, null, (request) => {
    held = request; // answered later
  });
  c.client.write(Buffer.concat([REQUEST, messageFrame(Buffer.from('pipelined'))]));
  const [noError, request] = await c.attached;
  assert.equal(noError, null);
  assert.equal(String(request.callTo), 'DST<20>');
  await settle();
  assert.equal(c.events.of('message').length, 0, 'nothing is delivered before the answer');
  held.accept();
  assert.deepEqual(await c.clientIn.read(4), POSITIVE);
  const [[message]] = await c.events.count('message', 1);
  assert.equal(String(message), 'pipelined');
  assert.deepEqual(c.events.log.map(({ event }) => event), ['connect', 'message']);
  assert.deepEqual(uncaught.stop(), []);
});

test('COMPAT.md point 7: any other frame pipelined behind the request is still a protocol error, once the request is accepted', async (t) => {
  const uncaught = watchUncaught(t);
  const c = await calledWithCallback(t, null, (request) => setImmediate(() => request.accept()));
  c.client.write(Buffer.concat([REQUEST, fromHex('82 00 00 00')]));
  assert.deepEqual(await c.clientIn.read(4), POSITIVE);
  const [[error]] = await c.events.count('error', 1);
  await assertFailedAndClosed({ error, peer: c.client, uncaught });
  assertNamesArrivedAndExpected(error, [/POSITIVE SESSION RESPONSE/, /expected.*SESSION MESSAGE/]);
});

test('COMPAT.md points 4 and 7: a request whose calling name has a compression pointer (0xC0 label byte) fails the attach callback, and the socket closes', async (t) => {
  // Calling name: a well-formed first label, then a pointer (C0 0C) where a scope label would be.
  const calling = Buffer.concat([encodeName('SRC', 0x00).subarray(0, 33), fromHex('c0 0c')]);
  const { error, events } = await attachFailsOn(t, requestFrame(encodeName('DST', 0x20), calling));
  assert.equal(events.of('connect').length, 0);
  assertNamesArrivedAndExpected(error, [/SESSION REQUEST/, /calling/, /expected/]);
});

test('COMPAT.md points 4 and 7: a request whose calling name starts with a compression pointer fails the attach callback, and the socket closes', async (t) => {
  // 68-byte trailer (the minimum): called name, then C0 00 where the calling name starts, padded.
  const calling = Buffer.concat([fromHex('c0 00'), Buffer.alloc(32, 0x41)]);
  const { error } = await attachFailsOn(t, requestFrame(encodeName('DST', 0x20), calling));
  assertNamesArrivedAndExpected(error, [/SESSION REQUEST/, /calling/, /expected/]);
});

test('COMPAT.md points 4 and 7: a request whose first label length is not 0x20 fails the attach callback, and the socket closes', async (t) => {
  const called = encodeName('DST', 0x20);
  called[0] = 0x1f; // one short of the 32 encoded characters
  const { error } = await attachFailsOn(t, requestFrame(called, encodeName('SRC', 0x00)));
  assertNamesArrivedAndExpected(error, [/SESSION REQUEST/, /expected/, /0x1f|31/i]);
});

test('COMPAT.md point 7 / PROTOCOL.md length rules: a SESSION REQUEST declaring a 600-byte trailer fails the attach callback, and the socket closes', async (t) => {
  const { error } = await attachFailsOn(t, fromHex('81 00 02 58')); // 600 = 0x0258
  assertNamesArrivedAndExpected(error, [/SESSION REQUEST/, /600/, /expected/]);
});

test('COMPAT.md points 7 and 8: a SESSION MESSAGE header declaring 1001 bytes to a session with maxMessageLength 1000 is a protocol error, and the socket closes', async (t) => {
  const uncaught = watchUncaught(t);
  const c = await establishedCalled(t, { maxMessageLength: 1000 });
  assert.equal(c.session.MAX_MESSAGE_LENGTH, 1000);
  // Exactly 1000 is fine.
  c.client.write(messageFrame(Buffer.alloc(1000, 0x61)));
  await c.events.count('message', 1);
  // 1001, header only: never allocated on trust
  const error = await establishedFailsOn(c, c.client, fromHex('00 00 03 e9'), uncaught);
  assert.deepEqual(c.events.of('message').map(([m]) => m.length), [1000]);
  assertNamesArrivedAndExpected(error, [/SESSION MESSAGE/, /1001/, /expected/, /1000/]);
});

test('COMPAT.md point 7: a truncated frame then FIN (header says 100, 10 bytes arrive, peer ends) is "Connection ended inside a frame", and the socket closes', async (t) => {
  const uncaught = watchUncaught(t);
  const c = await establishedCaller(t);
  c.peer.end(Buffer.concat([fromHex('00 00 00 64'), Buffer.alloc(10, 0x62)]));
  const [[error]] = await c.events.count('error', 1);
  assert.ok(error.message.startsWith('Connection ended inside a frame'), error.message);
  // Names what arrived and what was expected (counted with or without the 4-byte header).
  assert.match(error.message, /\b(10|14)\b.*\b(100|104)\b/);
  await assertFailedAndClosed({ error, peer: c.peer, uncaught });
  assert.equal(c.events.of('message').length, 0, 'the partial message is not delivered');
  assert.equal(c.events.of('end').length, 0, 'a cut frame is an error, not a clean end');
  assert.equal(c.events.of('error').length, 1);
});

// The connection going away before any response: the connect callback fails, nothing hangs.
const LOST_CONNECTIONS = [
  {
    title:
      'COMPAT.md points 4 and 7: the connection closing before any response arrives fails the connect callback with an Error (no hang)',
    cut: (peer) => peer.end(),
    closes: true,
  },
  {
    title: 'COMPAT.md point 4: the connection reset (RST) before any response arrives fails the connect callback with an Error (no hang)',
    cut: (peer) => peer.resetAndDestroy(),
    closes: false,
  },
];

for (const { title, cut, closes } of LOST_CONNECTIONS) {
  test(title, async (t) => {
    const uncaught = watchUncaught(t);
    const c = await callerAwaitingResponse(t);
    cut(c.peer);
    const [error] = await c.connected;
    assert.ok(error instanceof Error, `expected an Error, got ${error}`);
    if (closes) await closed(c.peer);
    await settle();
    assert.deepEqual(uncaught.stop(), []);
    assert.equal(c.events.of('connect').length, 0);
    assert.equal(c.events.of('error').length, 0, 'reported once, through the connect callback');
  });
}
