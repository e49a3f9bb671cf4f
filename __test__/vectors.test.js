'use strict';
// Every vector of PROTOCOL.md "Test vectors", checked byte-exact on the wire
// through the public API, over real TCP on 127.0.0.1. The peer on the other
// end is raw: it sends and reads hand-built bytes, never the package.

const test = require('node:test');
const assert = require('node:assert/strict');
const NBName = require('netbios-name');

const {
  encodeName,
  messageFrame,
  closed,
  fromHex,
  nextEvent,
  settle,
  withTimeout,
  attachAnswering,
  callbackPromise,
  callerWithRawPeer,
  callerAwaitingResponse,
  establishedCaller,
  calledWithRawClient,
  establishedCalled,
} = require('./helpers');

// PROTOCOL.md: name `DST`, suffix 0x20, no scope.
const DST_20 = fromHex(
  '20 45 45 46 44 46 45 43 41 43 41 43 41 43 41 43 41 43 41 43 41 43 41 43 41 43 41 43 41 43 41 43 41 00'
);
// `SRC`, suffix 0x00, no scope, by hand: S=0x53 -> FD, R=0x52 -> FC, C=0x43 -> ED,
// 12 spaces -> CA each, suffix 0x00 -> AA.
const SRC_00 = Buffer.concat([Buffer.from([0x20]), Buffer.from(`FDFCED${'CA'.repeat(12)}AA`, 'latin1'), Buffer.from([0])]);
const DST_REQUEST = Buffer.concat([fromHex('81 00 00 44'), DST_20, SRC_00]);

/** Deterministic, non-repeating-looking payload of `n` bytes. */
function payload(n, seed = 1) {
  const out = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** A NetBIOS caller whose raw peer has read the DST/SRC request (checked against DST_REQUEST) and answered POSITIVE. */
function establishedDstCaller(t) {
  return establishedCaller(t, undefined, DST_REQUEST);
}

// ---- encoded names ---------------------------------------------------

test('PROTOCOL.md vector: name DST<20> encodes to the 34 given bytes (the independent test encoder agrees)', () => {
  assert.equal(DST_20.length, 34);
  assert.deepEqual(encodeName('DST', 0x20), DST_20);
  assert.deepEqual(encodeName('SRC', 0x00), SRC_00);
});

test("PROTOCOL.md name vector on the wire: connect(port, '127.0.0.1', 'DST', 'SRC') writes 81 00 00 44 + DST<20> + SRC<00>", async (t) => {
  const c = await callerWithRawPeer(t, null, 'DST', 'SRC');
  const request = await c.peerIn.read(DST_REQUEST.length);
  assert.equal(request.toString('hex'), DST_REQUEST.toString('hex'));
  assert.deepEqual(request.subarray(4, 38), DST_20, 'called name (3rd argument, COMPAT.md point 1) comes first');
});

test('PROTOCOL.md name vector on the wire: a netbios-name style object {name: "DST", suffix: 0x20} encodes the same', async (t) => {
  const c = await callerWithRawPeer(t, null, { name: 'DST', suffix: 0x20 }, 'SRC');
  assert.deepEqual(await c.peerIn.read(DST_REQUEST.length), DST_REQUEST);
});

test('PROTOCOL.md name vector on the wire: a netbios-name 0.2.0 NBName({name: "DST", suffix: 0x20}) encodes the same', async (t) => {
  const c = await callerWithRawPeer(t, null, new NBName({ name: 'DST', suffix: 0x20 }), new NBName({ name: 'SRC', suffix: 0x00 }));
  assert.deepEqual(await c.peerIn.read(DST_REQUEST.length), DST_REQUEST);
});

// ---- session responses -------------------------------------------------

test('PROTOCOL.md vector: request.accept() writes the positive response 82 00 00 00 and establishes the session', async (t) => {
  let request;
  const c = await calledWithRawClient(t, null, (session, socket) => {
    attachAnswering(session, socket, (req) => {
      request = req;
      req.accept();
    });
  });
  const connect = nextEvent(c.session, 'connect');
  c.client.write(DST_REQUEST);
  assert.equal((await c.clientIn.read(4)).toString('hex'), '82000000');
  await connect;
  assert.equal(String(request.callTo), 'DST<20>');
  assert.equal(String(request.callFrom), 'SRC<00>');
  assert.equal(request.accept, null);
  assert.equal(request.reject, null);
  assert.equal(c.events.of('error').length, 0);
});

test("PROTOCOL.md vector: request.reject('Called name not present') writes exactly 83 00 00 01 82, then ends the socket", async (t) => {
  const c = await calledWithRawClient(t, null, (session, socket) => {
    attachAnswering(session, socket, (request) => request.reject('Called name not present'));
  });
  c.client.write(DST_REQUEST);
  const everything = await c.clientIn.rest();
  assert.equal(everything.toString('hex'), '8300000182');
  await closed(c.client);
  assert.equal(c.events.of('connect').length, 0);
  assert.equal(c.events.of('error').length, 0);
});

test('PROTOCOL.md vector: keep alive 85 00 00 00 received by an established session is discarded; a following message still arrives', async (t) => {
  const c = await establishedDstCaller(t);
  c.peer.write(fromHex('85 00 00 00'));
  // Another keep alive in the same write as a message, then the message alone.
  c.peer.write(Buffer.concat([fromHex('85 00 00 00'), messageFrame(Buffer.from('after keep alive'))]));
  const [[message]] = await c.events.count('message', 1);
  assert.equal(message.toString(), 'after keep alive');
  c.peer.write(messageFrame(Buffer.from('sentinel')));
  await c.events.count('message', 2);
  assert.deepEqual(
    c.events.of('message').map(([m]) => m.toString()),
    ['after keep alive', 'sentinel'],
    'keep alives produce no message'
  );
  assert.equal(c.events.of('error').length, 0);
});

test('PROTOCOL.md vector: retarget 84 00 00 06 0a 00 00 05 00 8b is decoded as 10.0.0.5:139 (maxRetargets 0: reported, not dialed)', async (t) => {
  // Following it would dial 10.0.0.5, off loopback; with no hops allowed the
  // decoded address is reported instead. Following is tested in lifecycle.test.js.
  const c = await callerAwaitingResponse(t, { maxRetargets: 0 }, DST_REQUEST);
  c.peer.write(fromHex('84 00 00 06 0a 00 00 05 00 8b'));
  const [error] = await c.connected;
  assert.ok(error instanceof Error);
  assert.equal(error.code, 'ERR_NETBIOS_RETARGET_LOOP');
  assert.equal(error.host, '10.0.0.5');
  assert.equal(error.port, 139);
  assert.match(error.message, /10\.0\.0\.5:139/);
  await closed(c.peer);
  assert.equal(c.events.of('connect').length, 0);
  assert.equal(c.events.of('error').length, 0, 'reported through the callback, not also as an event');
});

// ---- message headers: send direction -------------------------------------

for (const [length, header] of [
  [70000, '00 01 11 70'],
  [131071, '00 01 ff ff'],
]) {
  test(`PROTOCOL.md vector: write() of ${length} bytes sends header ${header} (E bit 0x01), payload intact`, async (t) => {
    const c = await establishedDstCaller(t);
    const data = payload(length, length);
    const written = new Promise((resolve) => c.session.write(data, (error) => resolve(error ?? null)));
    assert.equal((await c.peerIn.read(4)).toString('hex'), header.replace(/ /g, ''));
    assert.ok((await c.peerIn.read(length)).equals(data), 'payload follows intact');
    assert.equal(await withTimeout(written, 'the write callback'), null, 'write callback gets no error');
  });
}

test('PROTOCOL.md vector: direct: true write() of 1 MiB sends header 00 10 00 00, payload intact', async (t) => {
  const c = await callerWithRawPeer(t, { direct: true });
  assert.deepEqual(await c.connected, []);
  const data = payload(1 << 20, 7);
  const written = new Promise((resolve) => c.session.write(data, (error) => resolve(error ?? null)));
  assert.equal((await c.peerIn.read(4)).toString('hex'), '00100000');
  assert.ok((await c.peerIn.read(1 << 20)).equals(data), 'payload follows intact');
  assert.equal(await withTimeout(written, 'the write callback'), null, 'write callback gets no error');
});

// ---- message headers: receive direction ----------------------------------

for (const [length, header] of [
  [70000, '00 01 11 70'],
  [131071, '00 01 ff ff'],
]) {
  test(`PROTOCOL.md vector: a received frame ${header} + ${length} bytes is one 'message' of ${length} bytes`, async (t) => {
    const c = await establishedDstCaller(t);
    const data = payload(length, length + 1);
    c.peer.write(Buffer.concat([fromHex(header), data]));
    c.peer.write(messageFrame(Buffer.from('sentinel')));
    const [[message]] = await c.events.count('message', 2);
    assert.equal(message.length, length);
    assert.ok(message.equals(data));
    assert.deepEqual(
      c.events.of('message').map(([m]) => m.length),
      [length, 8],
      'one message, neither merged nor split'
    );
    assert.equal(c.events.of('error').length, 0);
  });
}

test("PROTOCOL.md vector: direct: true, a received frame 00 10 00 00 + 1 MiB is one 'message' of 1 MiB", async (t) => {
  const c = await callerWithRawPeer(t, { direct: true });
  assert.deepEqual(await c.connected, []);
  const data = payload(1 << 20, 11);
  c.peer.write(Buffer.concat([fromHex('00 10 00 00'), data]));
  c.peer.write(messageFrame(Buffer.from('sentinel')));
  const [[message]] = await c.events.count('message', 2);
  assert.equal(message.length, 1 << 20);
  assert.ok(message.equals(data));
  assert.deepEqual(
    c.events.of('message').map(([m]) => m.length),
    [1 << 20, 8]
  );
  assert.equal(c.events.of('error').length, 0);
});

// ---- Not NetBIOS ----------------------------------------------------------

function assertProtocolError(error) {
  assert.ok(error instanceof Error, `expected an Error, got ${error}`);
  assert.equal(error.code, 'ERR_NETBIOS_PROTOCOL');
}

/** The raw `peer` of an established session `c` writes `bytes`: 'error' gets ERR_NETBIOS_PROTOCOL, the socket closes, no message is delivered. */
async function establishedRejects(c, peer, bytes) {
  const failed = nextEvent(c.session, 'error');
  peer.write(bytes);
  const [error] = await failed;
  assertProtocolError(error);
  await closed(peer);
  await settle();
  assert.equal(c.events.of('error').length, 1);
  assert.equal(c.events.of('message').length, 0);
}

/**
 * The raw peer of a caller `c` awaiting its response writes `bytes`: the
 * connect callback gets ERR_NETBIOS_PROTOCOL, the socket closes, and there
 * is neither 'error' nor 'connect'. Resolves with the error.
 */
async function responseRejected(c, bytes) {
  c.peer.write(bytes);
  const [error] = await c.connected;
  assertProtocolError(error);
  await closed(c.peer);
  await settle();
  assert.equal(c.events.of('error').length, 0, 'reported through the callback, not also as an event');
  assert.equal(c.events.of('connect').length, 0);
  return error;
}

test('PROTOCOL.md vector "Not NetBIOS" 00 80 00 10 (reserved FLAGS bit) to a called node awaiting its request: attach callback gets ERR_NETBIOS_PROTOCOL, socket closed', async (t) => {
  const attached = callbackPromise('the attach callback');
  const c = await calledWithRawClient(t, null, (session, socket) => {
    session.attach(socket, attached.callback);
  });
  c.client.write(fromHex('00 80 00 10'));
  const [error, request] = await attached.promise;
  assertProtocolError(error);
  assert.equal(request, undefined);
  await closed(c.client);
  await settle();
  assert.equal(c.events.of('error').length, 0, 'reported through the callback, not also as an event');
  assert.equal(c.events.of('connect').length, 0);
});

test('PROTOCOL.md vector "Not NetBIOS" 86 00 00 00 (unknown type) to an established session: \'error\' ERR_NETBIOS_PROTOCOL, socket closed', async (t) => {
  const c = await establishedCalled(t, undefined, DST_REQUEST);
  await establishedRejects(c, c.client, fromHex('86 00 00 00'));
});

test('PROTOCOL.md vector "Not NetBIOS" 86 00 00 00 (unknown type) to a caller awaiting its response: connect callback gets ERR_NETBIOS_PROTOCOL, socket closed', async (t) => {
  const c = await callerAwaitingResponse(t, null, DST_REQUEST);
  await responseRejected(c, fromHex('86 00 00 00'));
});

test('PROTOCOL.md vector "Not NetBIOS" 83 00 00 00 (negative response without its code) to a caller: "Malformed negative response.  Connection failed.", socket closed', async (t) => {
  const c = await callerAwaitingResponse(t, null, DST_REQUEST);
  const error = await responseRejected(c, fromHex('83 00 00 00'));
  assert.equal(error.message, 'Malformed negative response.  Connection failed.');
});

test('PROTOCOL.md vector "Not NetBIOS" 85 00 00 01 00 (keep alive with a trailer) to an established session: \'error\' ERR_NETBIOS_PROTOCOL, socket closed', async (t) => {
  const c = await establishedDstCaller(t);
  await establishedRejects(c, c.peer, fromHex('85 00 00 01 00'));
});

// ---- Tolerated ------------------------------------------------------------

test('PROTOCOL.md vector "Tolerated": 82 00 00 44 + the request\'s 68 name bytes establishes the caller; trailer discarded, next message delivered', async (t) => {
  const c = await callerWithRawPeer(t, null, 'DST', 'SRC');
  const request = await c.peerIn.read(DST_REQUEST.length);
  assert.deepEqual(request, DST_REQUEST);
  const connect = nextEvent(c.session, 'connect');
  c.peer.write(Buffer.concat([fromHex('82 00 00 44'), request.subarray(4)]));
  assert.deepEqual(await c.connected, [], 'connect callback gets no error');
  await connect;
  c.peer.write(messageFrame(Buffer.from('after impacket-style response')));
  const [[message]] = await c.events.count('message', 1);
  assert.equal(message.toString(), 'after impacket-style response');
  assert.equal(c.events.of('message').length, 1, 'the trailer is not delivered as a message');
  assert.equal(c.events.of('error').length, 0);
});

test('PROTOCOL.md vector "Tolerated": the 68-byte positive trailer and a message in one TCP write, trailer split from its header', async (t) => {
  const c = await callerWithRawPeer(t, null, 'DST', 'SRC');
  const request = await c.peerIn.read(DST_REQUEST.length);
  c.peer.write(Buffer.concat([fromHex('82 00 00 44'), request.subarray(4, 20)]));
  c.peer.write(Buffer.concat([request.subarray(20), messageFrame(Buffer.from('same write'))]));
  assert.deepEqual(await c.connected, []);
  const [[message]] = await c.events.count('message', 1);
  assert.equal(message.toString(), 'same write');
  assert.equal(c.events.of('connect').length, 1);
  assert.equal(c.events.of('error').length, 0);
});
