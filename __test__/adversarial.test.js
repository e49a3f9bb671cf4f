'use strict';
// Adversarial peers over real TCP on 127.0.0.1. Each case asserts a clear
// error with a stable code, the connection closed, no uncaught exception
// (the process stays healthy), and, where the peer declares more than it
// sends, memory that does not grow with the declaration. Cases already in
// strict-state.test.js, vectors.test.js, lifecycle.test.js and
// write.test.js are not repeated here; these cover what they leave out:
// other unknown types and reserved bits, length limits in every mode,
// truncation and resets inside every kind of frame, slow peers inside a
// frame, requests where none may come, hostile names, bytes after a final
// response, and a peer that never reads.

const test = require('node:test');
const assert = require('node:assert/strict');

const NetbiosSession = require('..');
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
  withTimeout,
  callbackPromise,
  nextEvent,
  listen,
  rawClient,
  rawServer,
  reader,
  pattern,
  callerAwaitingResponse,
  establishedCaller,
  calledWithRawClient,
  establishedCalled,
} = require('./helpers');

const MiB = 1024 * 1024;

/**
 * The error was reported with `code`, its message matches `patterns`, the
 * peer's socket closed, nothing was thrown. `peerMayReset`: the peer was
 * still sending when it was cut off, so its socket may close by a reset
 * (see closedOrReset).
 */
async function assertCleanFailure(error, { code = 'ERR_NETBIOS_PROTOCOL', patterns = [], peer, uncaught, peerMayReset = false }) {
  assert.ok(error instanceof Error, `expected an Error, got ${error}`);
  assert.equal(error.code, code, error.message);
  for (const pattern of patterns) assert.match(error.message, pattern);
  await (peerMayReset ? closedOrReset(peer) : closed(peer));
  await settle();
  assert.deepEqual(uncaught.stop(), [], 'no uncaught exception or unhandled rejection');
}

/** A called node whose attach() callback result is `attached`. */
async function calledAttaching(t, options) {
  const attached = callbackPromise('the attach callback');
  const c = await calledWithRawClient(t, options, (session, socket) => session.attach(socket, attached.callback));
  return { ...c, attached: attached.promise };
}

/** The raw client sends `bytes` instead of a valid request: the attach callback gets the error and no request; nothing goes to 'error'. */
async function attachFailsOn(t, bytes, expectation = {}) {
  const uncaught = watchUncaught(t);
  const c = await calledAttaching(t, expectation.options);
  if (expectation.end) c.client.end(bytes);
  else c.client.write(bytes);
  const [error, request] = await c.attached;
  assert.equal(request, undefined);
  await assertCleanFailure(error, { ...expectation, peer: c.client, uncaught });
  assert.equal(c.events.of('error').length, 0, 'reported once, through the attach callback');
  assert.equal(c.events.of('connect').length, 0);
  await c.events.count('close', 1);
  return error;
}

/** An established session `c` whose raw `peer` sends `bytes` (then ends, with `end`): one 'error', no message. */
async function establishedFailsOn(c, peer, bytes, expectation, uncaught) {
  const failed = nextEvent(c.session, 'error');
  if (expectation.end) peer.end(bytes);
  else peer.write(bytes);
  const [error] = await failed;
  await assertCleanFailure(error, { ...expectation, peer, uncaught });
  await c.events.count('close', 1);
  assert.equal(c.events.of('error').length, 1);
  assert.equal(c.events.of('message').length, 0, 'nothing of the bad frame is delivered');
  return error;
}

/** A direct-mode (SMB port 445) called node and its raw client. */
async function directCalled(t, options) {
  const c = await calledWithRawClient(t, { ...options, direct: true }, (session, socket) => session.attach(socket));
  await c.events.count('connect', 1);
  return c;
}

// ---- unknown types ------------------------------------------------------------

for (const type of [0x01, 0x80, 0x86, 0xff]) {
  const hex = type.toString(16).padStart(2, '0');
  test(`unknown type 0x${hex} instead of a SESSION REQUEST: the attach callback gets ERR_NETBIOS_PROTOCOL naming 0x${hex}, socket closed`, async (t) => {
    await attachFailsOn(t, Buffer.from([type, 0, 0, 0]), { patterns: [new RegExp(`0x${hex}`), /not a NetBIOS session packet type/, /expected a SESSION REQUEST/] });
  });
}

test("direct mode: an unknown type 0xff is 'error' ERR_NETBIOS_PROTOCOL, socket closed", async (t) => {
  const uncaught = watchUncaught(t);
  const c = await directCalled(t);
  await establishedFailsOn(c, c.client, fromHex('ff 00 00 00'), { patterns: [/0xff/] }, uncaught);
});

// ---- reserved flag bits -------------------------------------------------------------

const RESERVED = [
  ['SESSION MESSAGE with FLAGS 0x02 to an established NetBIOS session', {}, '00 02 00 10', /reserved bits 0x02/],
  ['SESSION MESSAGE with FLAGS 0x01 to a legacyLengthBit session (its E bit is 0x80)', { legacyLengthBit: true }, '00 01 00 10', /reserved bits 0x01/],
  ['SESSION KEEP ALIVE with FLAGS 0x02', {}, '85 02 00 00', /SESSION KEEP ALIVE.*reserved bits 0x02/],
  ['SESSION KEEP ALIVE with FLAGS 0x80 in a 24-bit (maxMessageLength 200000) session: control frames stay strict', { maxMessageLength: 200000 }, '85 80 00 00', /reserved bits 0x80/],
];

for (const [what, options, hex, pattern] of RESERVED) {
  test(`reserved FLAGS bits: a ${what} is 'error' ERR_NETBIOS_PROTOCOL, socket closed`, async (t) => {
    const uncaught = watchUncaught(t);
    const c = await establishedCalled(t, options);
    await establishedFailsOn(c, c.client, fromHex(hex), { patterns: [pattern, /expected only the length-extension bit/] }, uncaught);
  });
}

test('reserved FLAGS bits: a POSITIVE SESSION RESPONSE with FLAGS 0x40 fails the connect callback, socket closed', async (t) => {
  const uncaught = watchUncaught(t);
  const c = await callerAwaitingResponse(t);
  c.peer.write(fromHex('82 40 00 00'));
  const [error] = await c.connected;
  await assertCleanFailure(error, { patterns: [/POSITIVE SESSION RESPONSE/, /reserved bits 0x40/], peer: c.peer, uncaught });
  assert.equal(c.events.of('connect').length, 0);
  assert.equal(c.events.of('error').length, 0);
});

test('direct mode: a KEEP ALIVE with the E bit (length 65536) is a protocol error, socket closed', async (t) => {
  const uncaught = watchUncaught(t);
  const c = await directCalled(t);
  await establishedFailsOn(c, c.client, fromHex('85 01 00 00'), { patterns: [/SESSION KEEP ALIVE with a 65536-byte trailer/] }, uncaught);
});

// ---- declared lengths past the limit, in each mode --------------------------------

const TOO_LONG = [
  // [title, options, header, length, max, direct?]
  ['NetBIOS, maxMessageLength 70000: 00 01 11 71 (70001)', { maxMessageLength: 70000 }, '00 01 11 71', 70001, 70000, false],
  ['NetBIOS 24-bit, maxMessageLength 200000: 00 03 0d 41 (200001)', { maxMessageLength: 200000 }, '00 03 0d 41', 200001, 200000, false],
  ['NetBIOS 24-bit, maxMessageLength 200000: 00 ff ff ff (16 MiB - 1)', { maxMessageLength: 200000 }, '00 ff ff ff', 16777215, 200000, false],
  ['direct, maxMessageLength 65536: 00 01 00 01 (65537)', { maxMessageLength: 65536 }, '00 01 00 01', 65537, 65536, true],
  ['direct, maxMessageLength 0: 00 00 00 01 (1)', { maxMessageLength: 0 }, '00 00 00 01', 1, 0, true],
];

for (const [what, options, header, length, max, direct] of TOO_LONG) {
  test(`declared length past the limit (${what}): ERR_NETBIOS_PROTOCOL naming ${length} and ${max}, on the header alone, socket closed`, async (t) => {
    const uncaught = watchUncaught(t);
    const c = direct ? await directCalled(t, options) : await establishedCalled(t, options);
    // The header alone: the error must not wait for (or allocate) the payload.
    await establishedFailsOn(c, c.client, fromHex(header), { patterns: [new RegExp(`${length} bytes; expected at most ${max}`)] }, uncaught);
  });
}

test('declared length past the 17-bit limit of a default NetBIOS session (00 02 00 00, 131072): a protocol error, socket closed', async (t) => {
  const uncaught = watchUncaught(t);
  const c = await establishedCalled(t);
  await establishedFailsOn(c, c.client, fromHex('00 02 00 00'), { patterns: [/SESSION MESSAGE/, /reserved bits 0x02/] }, uncaught);
});

test('a SESSION REQUEST declaring 67 bytes (one short of two names) fails the attach callback naming the limits', async (t) => {
  await attachFailsOn(t, Buffer.concat([fromHex('81 00 00 43'), Buffer.alloc(67, 0x41)]), { patterns: [/67-byte trailer/, /68 to 510 bytes/] });
});

test('a RETARGET response declaring 7 bytes fails the connect callback, socket closed', async (t) => {
  const uncaught = watchUncaught(t);
  const c = await callerAwaitingResponse(t);
  c.peer.write(fromHex('84 00 00 07 7f 00 00 01 00 8b 00'));
  const [error] = await c.connected;
  await assertCleanFailure(error, { patterns: [/RETARGET SESSION RESPONSE with a 7-byte trailer/, /exactly 6 bytes/], peer: c.peer, uncaught });
});

test('direct mode: a frame declaring 16 MiB - 1 that sends 64 KiB then stops holds only what arrived (memory bounded), and FIN is a truncation error', async (t) => {
  const uncaught = watchUncaught(t);
  const c = await directCalled(t);
  const before = process.memoryUsage();
  const body = pattern(64 * 1024, 3);
  c.client.write(Buffer.concat([fromHex('00 ff ff ff'), body]));
  // Wait until the session has read it all (the socket's counter), then measure.
  await withTimeout(
    (async () => {
      while (c.socket.bytesRead < 4 + body.length) await new Promise((resolve) => setTimeout(resolve, 5));
    })(),
    'the session reading the partial frame'
  );
  const grown = process.memoryUsage().arrayBuffers - before.arrayBuffers;
  assert.ok(grown < 4 * MiB, `ArrayBuffers grew ${(grown / MiB).toFixed(1)} MiB for a 16 MiB declaration`);
  const error = await establishedFailsOn(c, c.client, Buffer.alloc(0), { end: true, patterns: [/Connection ended inside a frame: 65540 of 16777219 bytes/] }, uncaught);
  assert.ok(error);
});

// ---- truncated frames then FIN ------------------------------------------------

test('truncated: half a header then FIN to an established session is "Connection ended inside a frame: 2 of 4"', async (t) => {
  const uncaught = watchUncaught(t);
  const c = await establishedCalled(t);
  await establishedFailsOn(c, c.client, fromHex('00 00'), { end: true, patterns: [/Connection ended inside a frame: 2 of 4 bytes/] }, uncaught);
  assert.equal(c.events.of('end').length, 0, 'a cut frame is an error, not a clean end');
});

test('truncated: a SESSION REQUEST cut after 34 of its 72 bytes then FIN fails the attach callback', async (t) => {
  await attachFailsOn(t, REQUEST.subarray(0, 34), { end: true, patterns: [/Connection ended inside a frame: 34 of 72 bytes/] });
});

test('truncated: a NEGATIVE response without its code byte then FIN fails the connect callback (not a rejection)', async (t) => {
  const uncaught = watchUncaught(t);
  const c = await callerAwaitingResponse(t);
  c.peer.end(fromHex('83 00 00 01'));
  const [error] = await c.connected;
  await assertCleanFailure(error, { patterns: [/Connection ended inside a frame: 4 of 5 bytes/], peer: c.peer, uncaught });
  assert.equal(c.events.of('error').length, 0);
});

test('truncated: a direct-mode frame cut inside its payload then FIN is a truncation error; the frames before it are delivered', async (t) => {
  const uncaught = watchUncaught(t);
  const c = await directCalled(t);
  const failed = nextEvent(c.session, 'error');
  c.client.end(Buffer.concat([messageFrame(Buffer.from('whole')), fromHex('00 00 01 00'), Buffer.alloc(100)]));
  const [error] = await failed;
  await assertCleanFailure(error, { patterns: [/Connection ended inside a frame: 104 of 260 bytes/], peer: c.client, uncaught });
  assert.deepEqual(c.events.of('message').map(([m]) => m.toString()), ['whole']);
});

// ---- frames cut by a reset (RST) -------------------------------------------------

/** The peer resets the connection: the error is ECONNRESET, or the truncation the reset caused if the kernel reported an end first. */
function assertResetError(error) {
  assert.ok(error instanceof Error, `expected an Error, got ${error}`);
  assert.ok(['ECONNRESET', 'ERR_NETBIOS_PROTOCOL'].includes(error.code), `${error.code}: ${error.message}`);
  if (error.code === 'ERR_NETBIOS_PROTOCOL') assert.match(error.message, /Connection ended inside a frame/);
}

test('reset: a message cut by ECONNRESET (resetAndDestroy after 500 of 1000 bytes) is an error with a code; nothing of it is delivered', async (t) => {
  const uncaught = watchUncaught(t);
  const c = await establishedCalled(t);
  const failed = nextEvent(c.session, 'error');
  c.client.write(Buffer.concat([messageFrame(Buffer.from('before')), fromHex('00 00 03 e8'), Buffer.alloc(500, 0x55)]), () => c.client.resetAndDestroy());
  const [error] = await failed;
  assertResetError(error);
  await c.events.count('close', 1);
  await settle();
  assert.deepEqual(uncaught.stop(), []);
  assert.deepEqual(c.events.of('message').map(([m]) => m.toString()), ['before'], 'only the whole message before the cut');
  assert.ok(c.socket.destroyed, 'the session socket is destroyed');
});

test('reset: a SESSION REQUEST cut by ECONNRESET fails the attach callback with an error that has a code', async (t) => {
  const uncaught = watchUncaught(t);
  const c = await calledAttaching(t);
  c.client.write(REQUEST.subarray(0, 40), () => c.client.resetAndDestroy());
  const [error, request] = await c.attached;
  assert.equal(request, undefined);
  assertResetError(error);
  await c.events.count('close', 1);
  await settle();
  assert.deepEqual(uncaught.stop(), []);
  assert.equal(c.events.of('error').length, 0);
});

test('reset: a caller whose peer resets inside a retarget response fails its connect callback once', async (t) => {
  const uncaught = watchUncaught(t);
  const c = await callerAwaitingResponse(t);
  c.peer.write(fromHex('84 00 00 06 7f 00'), () => c.peer.resetAndDestroy());
  const [error] = await c.connected;
  assertResetError(error);
  await c.events.count('close', 1);
  await settle();
  assert.deepEqual(uncaught.stop(), []);
  assert.equal(c.events.of('error').length, 0);
  assert.equal(c.events.of('connect').length, 0);
});

// ---- slow peers inside a frame ------------------------------------------------------

/** Writes `bytes` to `socket` one byte every `ms` until done or the socket closes. */
function trickle(t, socket, bytes, ms) {
  let i = 0;
  const timer = setInterval(() => {
    if (i < bytes.length && !socket.destroyed) socket.write(bytes.subarray(i, ++i));
  }, ms);
  const stop = () => clearInterval(timer);
  socket.once('close', stop);
  t.after(stop);
}

/**
 * Resolves once `socket` has emitted 'close', whether the called node's end
 * closed it (FIN) or reset it; any error other than ECONNRESET rejects.
 * A trickling peer can have a byte in flight when the deadline cuts it off:
 * when the event loop runs late, the trickle's write and the deadline fall
 * in the same timers phase, the byte sits unread in the called node's
 * socket as it is destroyed, and the kernel then sends RST instead of FIN.
 * closed() rejects on the 'error' (read ECONNRESET) that comes before 'close'.
 */
function closedOrReset(socket) {
  if (socket.destroyed && socket.closed) return Promise.resolve();
  let onError;
  const closing = new Promise((resolve, reject) => {
    onError = (error) => {
      if (error.code !== 'ECONNRESET') reject(error);
    };
    socket.on('error', onError);
    socket.once('close', resolve);
  }).finally(() => socket.off('error', onError));
  return withTimeout(closing, "the peer's 'close'");
}

test('slowloris inside the request trailer: a complete header, then one byte every 25 ms; requestTimeout 300 cuts it off (ERR_NETBIOS_TIMEOUT) while other clients are served', async (t) => {
  const uncaught = watchUncaught(t);
  const c = await calledAttaching(t, { requestTimeout: 300 });
  c.client.write(REQUEST.subarray(0, 4));
  trickle(t, c.client, REQUEST.subarray(4), 25);
  // Meanwhile a well-behaved client on another connection is answered at once.
  const other = await establishedCalled(t, { requestTimeout: 300 });
  other.client.write(messageFrame(Buffer.from('ping')));
  await other.events.count('message', 1);
  const [error, request] = await c.attached;
  assert.equal(request, undefined);
  await assertCleanFailure(error, { code: 'ERR_NETBIOS_TIMEOUT', patterns: [/300 ms \(requestTimeout\)/], peer: c.client, uncaught, peerMayReset: true });
  assert.equal(c.events.of('error').length, 0);
});

test('slowloris mid-message: a message header, then one payload byte every 25 ms; idleTimeout 300 cuts it off (ERR_NETBIOS_TIMEOUT), nothing delivered', async (t) => {
  const uncaught = watchUncaught(t);
  const c = await establishedCalled(t, { idleTimeout: 300 });
  const failed = nextEvent(c.session, 'error');
  c.client.write(fromHex('00 00 03 e8')); // 1000 bytes declared
  trickle(t, c.client, Buffer.alloc(1000, 0x61), 25);
  const [error] = await failed;
  await assertCleanFailure(error, { code: 'ERR_NETBIOS_TIMEOUT', patterns: [/300 ms \(idleTimeout\)/], peer: c.client, uncaught, peerMayReset: true });
  assert.equal(c.events.of('message').length, 0);
  await c.events.count('close', 1);
});

test('slowloris crowd: 20 clients trickling requests are all cut off by requestTimeout; the server process stays healthy and serves the next client', async (t) => {
  const uncaught = watchUncaught(t);
  const errors = [];
  const sessions = [];
  const { server, port } = await listen((socket) => {
    const session = new NetbiosSession({ requestTimeout: 300, autoAccept: true });
    sessions.push(session);
    session.attach(socket, (error, request) => (error ? errors.push(error) : request.accept()));
  });
  t.after(() => server.close());
  const clients = [];
  for (let i = 0; i < 20; i++) {
    const client = await rawClient(port);
    t.after(() => client.destroy());
    client.resume(); // flowing, so the server's close is seen
    trickle(t, client, REQUEST, 40);
    clients.push(client);
  }
  await withTimeout(Promise.all(clients.map((client) => closedOrReset(client))), 'the slow clients being cut off');
  await settle();
  assert.equal(errors.length, 20);
  assert.ok(errors.every((error) => error.code === 'ERR_NETBIOS_TIMEOUT'), errors.map((e) => e.code).join());
  // A normal client right after: accepted and echoed.
  const client = await rawClient(port);
  t.after(() => client.destroy());
  const input = reader(client);
  client.write(REQUEST);
  assert.deepEqual(await input.read(4), POSITIVE);
  assert.deepEqual(uncaught.stop(), []);
});

// ---- a SESSION REQUEST where none may come ------------------------------------

test('a second SESSION REQUEST pipelined behind the first: read once the first is accepted, and a protocol error then', async (t) => {
  const uncaught = watchUncaught(t);
  let held = null;
  const attached = callbackPromise('the attach callback');
  const c = await calledWithRawClient(t, null, (session, socket) =>
    session.attach(socket, (error, request) => {
      held = request;
      attached.callback(error, request);
    })
  );
  c.client.write(Buffer.concat([REQUEST, REQUEST]));
  const [noError] = await attached.promise;
  assert.equal(noError, null);
  await settle();
  assert.equal(c.events.of('error').length, 0, 'nothing is read behind the request before its answer');
  held.accept();
  assert.deepEqual(await c.clientIn.read(4), POSITIVE);
  const [[error]] = await c.events.count('error', 1);
  await assertCleanFailure(error, { patterns: [/SESSION REQUEST/, /established/], peer: c.client, uncaught });
});

test("direct mode: a SESSION REQUEST is not a message: 'error' ERR_NETBIOS_PROTOCOL, socket closed", async (t) => {
  const uncaught = watchUncaught(t);
  const c = await directCalled(t);
  await establishedFailsOn(c, c.client, REQUEST, { patterns: [/SESSION REQUEST/, /expected a SESSION MESSAGE or SESSION KEEP ALIVE/] }, uncaught);
});

test('a called node answering a caller with a SESSION REQUEST of its own fails the connect callback, socket closed', async (t) => {
  const uncaught = watchUncaught(t);
  const c = await callerAwaitingResponse(t);
  c.peer.write(REQUEST);
  const [error] = await c.connected;
  await assertCleanFailure(error, { patterns: [/SESSION REQUEST/, /expected a POSITIVE, NEGATIVE or RETARGET/], peer: c.peer, uncaught });
});

// ---- hostile names -------------------------------------------------------------------

const DST = encodeName('DST', 0x20);
const SRC = encodeName('SRC', 0x00);
/** An encoded name's first 33 bytes (length byte and 32 letters), for appending hostile scopes. */
const head = (name) => name.subarray(0, 33);

const HOSTILE_NAMES = [
  ['the called name starting with a compression pointer (C0 0C)', requestFrame(Buffer.concat([fromHex('c0 0c'), Buffer.alloc(32, 0x41)]), SRC), [/called name/, /compression pointer at byte 0/]],
  ['a pointer loop: the calling name\'s scope is C0 21, pointing at itself', requestFrame(DST, Buffer.concat([head(SRC), fromHex('c0 21')])), [/calling name/, /compression pointer at byte 33/]],
  ['a pointer from the called name into the calling name (C0 22)', requestFrame(Buffer.concat([head(DST), fromHex('c0 22')]), SRC), [/called name/, /compression pointer/]],
  ['a scope label of 64 bytes (length byte 0x40)', requestFrame(Buffer.concat([head(DST), Buffer.from([0x40]), Buffer.alloc(64, 0x61), Buffer.from([0])]), SRC), [/called name/, /label length byte 0x40/, /0 to 63/]],
  ['a scope label length byte 0x80 (reserved label type)', requestFrame(DST, Buffer.concat([head(SRC), Buffer.from([0x80, 0x61, 0])])), [/calling name/, /0x80/]],
  ['a calling name without its terminator (its last label runs to the end)', requestFrame(DST, Buffer.concat([head(SRC), Buffer.from([5]), Buffer.from('scope')])), [/calling name/, /cut short/]],
  ['a calling name whose label claims more bytes than the trailer has', requestFrame(DST, Buffer.concat([head(SRC), Buffer.from([40]), Buffer.from('short')])), [/calling name/, /cut short/]],
  ['a scope over 255 bytes (four 63-byte labels, no terminator within the DNS limit)', requestFrame(Buffer.concat([head(DST), ...Array.from({ length: 4 }, () => Buffer.concat([Buffer.from([63]), Buffer.alloc(63, 0x7a)])), Buffer.from([0])]), SRC), [/called name/, /longer than 255 bytes/]],
  ['a first-level encoding with a letter outside A..P', requestFrame(Buffer.concat([DST.subarray(0, 5), Buffer.from('Z'), DST.subarray(6)]), SRC), [/called name/, /0x5a at byte 5/, /'A' to 'P'/]],
  ['a scope label containing a dot', requestFrame(Buffer.concat([head(DST), Buffer.from([3]), Buffer.from('a.b'), Buffer.from([0])]), SRC), [/called name/, /contains a dot/]],
  ['two bytes after the two names', Buffer.concat([fromHex('81 00 00 46'), DST, SRC, fromHex('00 00')]), [/2 bytes after its two names/]],
];

for (const [what, frame, patterns] of HOSTILE_NAMES) {
  test(`hostile name: ${what}: the attach callback gets ERR_NETBIOS_PROTOCOL, socket closed, nothing answered`, async (t) => {
    const error = await attachFailsOn(t, frame, { patterns: [/SESSION REQUEST/, ...patterns] });
    assert.ok(error.message.length < 400, 'the message stays short (no echo of hostile bytes)');
  });
}

test('hostile names: 200 requests with random name bytes (seeded) all end in a request or ERR_NETBIOS_PROTOCOL; the server stays healthy', async (t) => {
  const uncaught = watchUncaught(t);
  const outcomes = { request: 0, error: 0 };
  const { server, port } = await listen((socket) => {
    const session = new NetbiosSession();
    session.attach(socket, (error, request) => {
      if (error) {
        assert.equal(error.code, 'ERR_NETBIOS_PROTOCOL', error.message);
        outcomes.error += 1;
      } else {
        outcomes.request += 1;
        request.reject();
      }
    });
  });
  t.after(() => server.close());
  let x = 0x2545f491;
  const random = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  for (let i = 0; i < 200; i++) {
    const frame = Buffer.from(REQUEST);
    // Overwrite 1 to 4 trailer bytes with bytes that matter to the decoder.
    for (let n = 1 + (random() % 4); n > 0; n--) {
      frame[4 + (random() % 68)] = [0x00, 0x20, 0x3f, 0x40, 0x41, 0x50, 0xc0, 0xff][random() % 8];
    }
    const client = await rawClient(port);
    client.resume();
    client.end(frame);
    await closed(client);
  }
  await settle();
  assert.equal(outcomes.request + outcomes.error, 200);
  assert.deepEqual(uncaught.stop(), []);
});

// ---- bytes after a final response ----------------------------------------------------

test('bytes after a NEGATIVE response (a message frame and garbage in the same write): only ERR_NETBIOS_REJECTED, once; nothing else surfaces', async (t) => {
  const uncaught = watchUncaught(t);
  const c = await callerAwaitingResponse(t);
  c.peer.write(Buffer.concat([fromHex('83 00 00 01 82'), messageFrame(Buffer.from('after the end')), fromHex('ff ff ff ff 00 01')]));
  const [error] = await c.connected;
  await assertCleanFailure(error, { code: 'ERR_NETBIOS_REJECTED', patterns: [/Called name not present/], peer: c.peer, uncaught });
  assert.equal(error.errorCode, 0x82);
  await c.events.count('close', 1);
  await settle();
  assert.equal(c.events.of('error').length, 0);
  assert.equal(c.events.of('message').length, 0);
  assert.equal(c.events.of('connect').length, 0);
});

test('bytes after a NEGATIVE response do not leak into the fallback attempt: the next name is called on a fresh connection and succeeds', async (t) => {
  const uncaught = watchUncaught(t);
  const raw = await rawServer();
  t.after(() => raw.close());
  const session = new NetbiosSession({ calledNameFallback: ['*SMBSERVER'] });
  const fallbacks = [];
  session.on('fallback', (name) => fallbacks.push(String(name)));
  const connected = callbackPromise('the connect callback');
  session.connect(raw.port, '127.0.0.1', 'DST', 'SRC', connected.callback);
  t.after(() => session.end());
  const first = await raw.accepted();
  t.after(() => first.destroy());
  await reader(first).read(REQUEST.length);
  first.write(Buffer.concat([fromHex('83 00 00 01 82'), POSITIVE, messageFrame(Buffer.from('stale'))]));
  const second = await raw.accepted();
  t.after(() => second.destroy());
  const secondIn = reader(second);
  assert.deepEqual(await secondIn.read(REQUEST.length), requestFrame(encodeName('*SMBSERVER', 0x20), SRC));
  const messages = [];
  session.on('message', (m) => messages.push(m.toString()));
  second.write(Buffer.concat([POSITIVE, messageFrame(Buffer.from('fresh'))]));
  assert.deepEqual(await connected.promise, []);
  await withTimeout(
    (async () => {
      while (messages.length < 1) await new Promise((resolve) => setTimeout(resolve, 5));
    })(),
    "the fallback connection's message"
  );
  assert.deepEqual(fallbacks, ['*SMBSERVER<20>']);
  assert.deepEqual(messages, ['fresh'], 'nothing from the first connection');
  await closed(first);
  assert.deepEqual(uncaught.stop(), []);
});

test('bytes after a RETARGET response (maxRetargets 0): only ERR_NETBIOS_RETARGET_LOOP, once', async (t) => {
  const uncaught = watchUncaught(t);
  const c = await callerAwaitingResponse(t, { maxRetargets: 0 });
  c.peer.write(Buffer.concat([fromHex('84 00 00 06 7f 00 00 01 00 8b'), POSITIVE, fromHex('86 00 00 00')]));
  const [error] = await c.connected;
  await assertCleanFailure(error, { code: 'ERR_NETBIOS_RETARGET_LOOP', peer: c.peer, uncaught });
  await c.events.count('close', 1);
  assert.equal(c.events.of('error').length, 0);
  assert.equal(c.events.of('connect').length, 0);
});

// ---- a peer that never reads -----------------------------------------------------------

test('a peer that never reads: write() returns false, the write buffer stays within the high-water mark plus one message, memory is bounded, and \'drain\' follows once it reads', async (t) => {
  const uncaught = watchUncaught(t);
  const c = await establishedCalled(t);
  c.session.on('error', (error) => assert.fail(error));
  c.client.pause(); // the peer reads nothing
  const message = pattern(64 * 1024, 9);
  const socket = c.socket;
  const before = process.memoryUsage();
  // A writer that respects backpressure: write until false, wait for 'drain'
  // at most 300 ms; no 'drain' means the kernel buffers are full.
  let sent = 0;
  let most = 0;
  for (;;) {
    const ok = c.session.write(message);
    sent += 1;
    most = Math.max(most, socket.writableLength);
    if (ok) continue;
    const drained = await nextEvent(c.session, 'drain', 300).then(
      () => true,
      () => false
    );
    if (!drained) break;
    assert.ok(sent < 4096, `still draining after ${sent} messages of 64 KiB: the peer is reading`);
  }
  const limit = socket.writableHighWaterMark + message.length + 4;
  assert.ok(most <= limit, `writableLength reached ${most}, over the high-water mark + one message (${limit})`);
  const grown = process.memoryUsage().arrayBuffers - before.arrayBuffers;
  assert.ok(grown < 8 * MiB, `ArrayBuffers grew ${(grown / MiB).toFixed(1)} MiB with the peer not reading`);
  t.diagnostic(`stalled after ${sent} messages (${((sent * message.length) / MiB).toFixed(1)} MiB, mostly in kernel buffers); most buffered in the socket: ${most} bytes`);

  // The peer reads now: 'drain' comes and every message arrives intact.
  const drained = nextEvent(c.session, 'drain');
  c.client.resume();
  for (let i = 0; i < sent; i++) {
    assert.deepEqual(await c.clientIn.read(4), fromHex('00 01 00 00'), `header of message ${i}`);
    assert.ok((await c.clientIn.read(message.length)).equals(message), `payload of message ${i}`);
  }
  await drained;
  await settle();
  assert.deepEqual(uncaught.stop(), []);
});
