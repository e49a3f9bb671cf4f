'use strict';
// pause()/resume() flow control (over TCP and in memory), negotiation while
// paused, pausing inside a 'message' handler, end(), and the 'end', 'error'
// and 'drain' events.

const net = require('node:net');
const { Readable } = require('node:stream');
const test = require('node:test');
const assert = require('node:assert/strict');

const NetbiosSession = require('..');
const {
  TIMEOUT,
  REQUEST,
  POSITIVE,
  nextEvent,
  reader,
  duplexPair,
  messageFrame,
  delay,
  listen,
  tcpPair,
  recordingDuplex,
  attachAnswering,
  establishedOverTcp,
  callerAwaitingResponse,
  attachedDirect,
  rawServer,
} = require('./helpers');

/** Resolves once `messages` holds `count` items, checking on each 'message'. */
function collected(session, messages, count, ms = TIMEOUT) {
  if (messages.length >= count) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      session.removeListener('message', check);
      reject(new Error(`only ${messages.length} of ${count} messages arrived`));
    }, ms);
    const check = () => {
      // Runs after the collecting listener, which was added first.
      if (messages.length < count) return;
      clearTimeout(timer);
      session.removeListener('message', check);
      resolve();
    };
    session.on('message', check);
  });
}

/** Collects the text of each 'message' into the returned array. */
function collectTexts(session) {
  const received = [];
  session.on('message', (message) => received.push(message.toString()));
  return received;
}

/**
 * While paused, `received` stays `held` (checked after a delay); resume()
 * then delivers the rest, up to exactly `expected`.
 */
async function heldUntilResume(session, received, held, expected, note) {
  await delay();
  assert.deepEqual(received, held, note);
  session.resume();
  await collected(session, received, expected.length);
  assert.deepEqual(received, expected);
}

/**
 * A session (`options`; errors fail the test, message texts collected in
 * `received`) attach()ed to `local`, its request answered by `answer` in
 * the callback (no callback without one), pause()d first if `pauseFirst`.
 * Resolves once the peer has sent REQUEST on `remote`, 'connect' was
 * emitted and `peer` read POSITIVE.
 */
async function attachedAndAccepted({ local, remote, peer }, options, { answer, pauseFirst = false } = {}) {
  const session = new NetbiosSession(options);
  session.on('error', (error) => assert.fail(error));
  const received = collectTexts(session);
  const connected = nextEvent(session, 'connect');
  attachAnswering(session, local, answer);
  if (pauseFirst) session.pause();
  remote.write(REQUEST);
  await connected;
  assert.deepEqual(await peer.read(4), POSITIVE);
  return { session, received };
}

// ---- flow control over TCP ----------------------------------------------------------

test('COMPAT pause: while paused no message events and the session stops reading, so TCP pushes back; resume() delivers every message in order', async (t) => {
  const TOTAL = 1024; // 64 MiB in 64 KiB messages
  const SIZE = 64 * 1024;
  const payload = (i) => {
    const out = Buffer.alloc(SIZE, i & 0xff);
    out.writeUInt32BE(i, 0);
    out.writeUInt32BE((i ^ 0xa5a5a5a5) >>> 0, SIZE - 4);
    return out;
  };

  const { session, socket } = await establishedOverTcp(t);
  session.on('error', (error) => assert.fail(error));
  session.pause();
  const received = [];
  let broken = null;
  session.on('message', (message) => {
    const i = received.length;
    if (!broken && !message.equals(payload(i))) broken = `message ${i} is not intact (length ${message.length})`;
    received.push(message.length);
  });

  // The peer writes with backpressure until a write returns false and no
  // 'drain' comes within 500 ms.
  let written = 0;
  let stalled = false;
  while (written < TOTAL) {
    const ok = socket.write(messageFrame(payload(written)));
    written += 1;
    if (!ok) {
      const drained = await nextEvent(socket, 'drain', 500).then(
        () => true,
        () => false
      );
      if (!drained) {
        stalled = true;
        break;
      }
    }
  }
  t.diagnostic(`the peer stalled after ${written} of ${TOTAL} messages`);
  assert.equal(stalled, true, `the peer pushed all ${TOTAL} messages into a paused session`);
  assert.ok(written < TOTAL, `the peer could write only ${written} of ${TOTAL} messages`);
  assert.equal(received.length, 0, "no 'message' while paused");

  // Resume: the peer gets 'drain', writes the rest, and every message
  // arrives in order and intact.
  const drained = nextEvent(socket, 'drain', TIMEOUT);
  const all = collected(session, received, TOTAL, 30000);
  session.resume();
  await drained;
  while (written < TOTAL) {
    const ok = socket.write(messageFrame(payload(written)));
    written += 1;
    if (!ok && written < TOTAL) await nextEvent(socket, 'drain', TIMEOUT);
  }
  await all;
  assert.equal(broken, null, broken);
  assert.equal(received.length, TOTAL);
  assert.ok(received.every((length) => length === SIZE));
});

test("COMPAT pause: no 'message' while paused, then resume() delivers the held messages (in memory)", async () => {
  const [local, remote] = duplexPair();
  const session = await attachedDirect(local);
  session.pause();
  const received = collectTexts(session);
  for (const text of ['one', 'two', 'three']) remote.write(messageFrame(Buffer.from(text)));
  await heldUntilResume(session, received, [], ['one', 'two', 'three']);
  // Pausing again holds new messages again.
  session.pause();
  remote.write(messageFrame(Buffer.from('four')));
  await heldUntilResume(session, received, ['one', 'two', 'three'], ['one', 'two', 'three', 'four']);
  session.end();
  remote.destroy();
});

test('pause: a session setup pauses neither socket when nobody asked for a pause', async (t) => {
  // The chunk that carried the request (or the response) is spent before
  // 'connect' is emitted; holding it until then must not pause the socket,
  // which would cost a pause/resume pair and their events per session.
  const pauses = [];
  const spy = t.mock.method(net.Socket.prototype, 'pause', function pause() {
    pauses.push(this.server ? 'called' : 'caller');
    return Readable.prototype.pause.call(this);
  });
  t.after(() => spy.mock.restore());
  let calledConnected;
  const { server, port } = await listen((socket) => {
    const called = new NetbiosSession({ autoAccept: true });
    called.on('error', (error) => assert.fail(error));
    calledConnected = nextEvent(called, 'connect');
    called.attach(socket);
    t.after(() => called.destroy());
  });
  t.after(() => server.close());
  const caller = new NetbiosSession();
  caller.on('error', (error) => assert.fail(error));
  t.after(() => caller.destroy());
  await new Promise((resolve, reject) => {
    caller.connect(port, '127.0.0.1', 'DST', 'SRC', (error) => (error ? reject(error) : resolve()));
  });
  await calledConnected;
  await delay();
  assert.deepEqual(pauses, []);
});

test("pause: a 'message' handler that throws loses no message and repeats none; 'end' still follows", async () => {
  // The first handler pauses, so the rest of the chunk is held; resume()
  // delivers held messages synchronously, so the next handler's exception
  // surfaces there. The rest follows on the next tick, then the peer's end.
  const [local, remote] = duplexPair();
  const session = await attachedDirect(local);
  const seen = [];
  session.on('message', (message) => {
    seen.push(message.toString());
    if (message.toString() === 'zero') session.pause();
    if (message.toString() === 'one') throw new Error('handler bug');
  });
  const ended = new Promise((resolve) => session.on('end', () => resolve(seen.slice())));
  remote.end(Buffer.concat(['zero', 'one', 'two', 'three'].map((text) => messageFrame(Buffer.from(text)))));
  await delay(10);
  assert.deepEqual(seen, ['zero'], 'the rest held while paused');
  assert.throws(() => session.resume(), /handler bug/);
  assert.deepEqual(seen, ['zero', 'one']);
  assert.deepEqual(await ended, ['zero', 'one', 'two', 'three']);
  await delay(10);
  assert.deepEqual(seen, ['zero', 'one', 'two', 'three'], 'each once');
  session.destroy();
});

// ---- negotiation while paused -------------------------------------------------------

test("COMPAT pause: with {paused: true} attach + accept completes and emits 'connect', but no 'message' until resume() (tcp)", async (t) => {
  const { local, remote: client, close } = await tcpPair();
  t.after(close);
  const peer = reader(client);
  const { session, received } = await attachedAndAccepted({ local, remote: client, peer }, { paused: true }, {
    answer: (request) => request.accept(),
  });
  client.write(Buffer.concat([messageFrame(Buffer.from('early')), messageFrame(Buffer.from('later'))]));
  await heldUntilResume(session, received, [], ['early', 'later'], "no 'message' while paused");
  session.end();
});

test("COMPAT pause: with {paused: true} attach + accept completes and emits 'connect', but no 'message' until resume() (in memory)", async () => {
  const [local, remote] = duplexPair();
  const peer = reader(remote);
  const { session, received } = await attachedAndAccepted({ local, remote, peer }, { paused: true }, {
    answer: (request) => setTimeout(() => request.accept(), 10),
  });
  remote.write(messageFrame(Buffer.from('early')));
  await heldUntilResume(session, received, [], ['early']);
  session.end();
  remote.destroy();
});

test('COMPAT pause: pause() before the request arrives does not stop negotiation (attach)', async () => {
  const [local, remote] = duplexPair();
  const peer = reader(remote);
  const { session, received } = await attachedAndAccepted({ local, remote, peer }, { autoAccept: true }, { pauseFirst: true });
  remote.write(messageFrame(Buffer.from('held')));
  await heldUntilResume(session, received, [], ['held']);
  session.end();
  remote.destroy();
});

test("COMPAT pause: with {paused: true} connect() completes, calls back and emits 'connect', but no 'message' until resume()", async (t) => {
  const { session, connected: done, peer: socket } = await callerAwaitingResponse(t, { paused: true });
  session.on('error', (error) => assert.fail(error));
  const received = collectTexts(session);
  const connected = nextEvent(session, 'connect');
  // The positive response and a first message in one chunk.
  socket.write(Buffer.concat([POSITIVE, messageFrame(Buffer.from('first'))]));
  const [error] = await done;
  assert.equal(error, undefined);
  await connected;
  socket.write(messageFrame(Buffer.from('second')));
  await heldUntilResume(session, received, [], ['first', 'second'], "no 'message' while paused");
  session.end();
});

test("pause: resume() inside a 'connect' listener still lets the connect() callback run before the held messages", async (t) => {
  const raw = await rawServer();
  t.after(() => raw.close());
  const session = new NetbiosSession({ paused: true });
  t.after(() => session.destroy());
  session.on('error', (error) => assert.fail(error));
  const order = [];
  session.on('connect', () => {
    order.push('connect');
    session.resume();
  });
  const delivered = new Promise((resolve) => {
    session.on('message', (message) => {
      order.push(`message ${message}`);
      resolve();
    });
  });
  session.connect(raw.port, '127.0.0.1', 'DST', 'SRC', (error) => order.push(error ? `callback ${error.code}` : 'callback'));
  const peer = await raw.accepted();
  assert.deepEqual(await reader(peer).read(REQUEST.length), REQUEST);
  // The positive response and a message in one chunk.
  peer.write(Buffer.concat([POSITIVE, messageFrame(Buffer.from('first'))]));
  await delivered;
  assert.deepEqual(order, ['connect', 'callback', 'message first']);
});

// ---- pause() inside a handler -------------------------------------------------------------

test("COMPAT pause: pause() inside a 'message' handler holds the next message from the same chunk; resume() delivers it before later ones", async (t) => {
  // Two frames in one raw write, so they reach the session in one chunk.
  const { session, socket } = await establishedOverTcp(t);
  session.on('error', (error) => assert.fail(error));
  const received = [];
  session.on('message', (message) => {
    received.push(message.toString());
    if (received.length === 1) session.pause();
  });
  socket.write(Buffer.concat([messageFrame(Buffer.from('A')), messageFrame(Buffer.from('B'))]));
  await collected(session, received, 1);
  await delay();
  assert.deepEqual(received, ['A'], 'B is held after pause() in the handler');

  socket.write(messageFrame(Buffer.from('C')));
  await delay();
  assert.deepEqual(received, ['A']);

  session.resume();
  await collected(session, received, 3);
  assert.deepEqual(received, ['A', 'B', 'C']);
});

test("COMPAT pause: pause() in every 'message' handler lets exactly one held message through per resume() (one chunk)", async () => {
  const [local, remote] = duplexPair();
  const session = await attachedDirect(local);
  const received = [];
  session.on('message', (message) => {
    received.push(message.toString());
    session.pause();
  });
  const texts = ['m1', 'm2', 'm3', 'm4'];
  remote.write(Buffer.concat(texts.map((text) => messageFrame(Buffer.from(text)))));
  await collected(session, received, 1);
  await delay(20);
  assert.deepEqual(received, ['m1']);
  for (let i = 2; i <= texts.length; i++) {
    session.resume();
    await collected(session, received, i);
    await delay(20);
    assert.deepEqual(received, texts.slice(0, i), `one message per resume() (${i})`);
  }
  // Later messages still follow the held ones.
  session.resume();
  remote.write(messageFrame(Buffer.from('m5')));
  await collected(session, received, 5);
  assert.deepEqual(received, [...texts, 'm5']);
  session.end();
  remote.destroy();
});

// ---- end() ----------------------------------------------------------------------------------

test('COMPAT methods: end() ends the socket with FIN after pending writes', async (t) => {
  const { session, socket } = await establishedOverTcp(t);
  session.on('error', (error) => assert.fail(error));
  // The peer is not reading yet, so these writes are still pending when end() is called.
  const COUNT = 40;
  const SIZE = 100000;
  const payload = (i) => Buffer.alloc(SIZE, i);
  for (let i = 0; i < COUNT; i++) session.write(payload(i));
  session.end();
  const peer = reader(socket);
  for (let i = 0; i < COUNT; i++) {
    assert.deepEqual(await peer.read(4), Buffer.from([0x00, 0x01, 0x86, 0xa0]));
    assert.ok((await peer.read(SIZE)).equals(payload(i)), `message ${i} intact`);
  }
  // Then FIN: the stream ends with nothing more.
  assert.equal((await peer.rest()).length, 0);
  // end() again is harmless; write() after end() reports instead of sending.
  session.end();
  const [error] = await new Promise((resolve) => session.write(Buffer.from('late'), (...args) => resolve(args)));
  assert.equal(error.code, 'ERR_NETBIOS_NOT_CONNECTED');
});

test('COMPAT methods: end() on an in-memory stream ends it after pending writes', async () => {
  const [local, remote] = duplexPair();
  const peer = reader(remote);
  const session = new NetbiosSession({ autoAccept: true });
  session.on('error', (error) => assert.fail(error));
  const connected = nextEvent(session, 'connect');
  session.attach(local);
  remote.write(REQUEST);
  await connected;
  session.write(Buffer.from('last words'));
  session.end();
  assert.deepEqual(await peer.read(4), POSITIVE);
  assert.deepEqual(await peer.read(14), messageFrame(Buffer.from('last words')));
  assert.equal((await peer.rest()).length, 0);
  remote.destroy();
});

// ---- events -------------------------------------------------------------------------------

test("COMPAT events: 'end' is emitted when the peer ends the stream, after the messages before it", async (t) => {
  const { session, socket } = await establishedOverTcp(t);
  session.on('error', (error) => assert.fail(error));
  const seen = [];
  session.on('message', (message) => seen.push(message.toString()));
  const ended = nextEvent(session, 'end');
  session.on('end', () => seen.push('<end>'));
  socket.end(Buffer.concat([messageFrame(Buffer.from('x')), messageFrame(Buffer.from('y'))]));
  await ended;
  assert.deepEqual(seen, ['x', 'y', '<end>']);
});

test("COMPAT events: while paused, 'end' waits until resume() has delivered the held messages", async (t) => {
  const { session, socket } = await establishedOverTcp(t);
  session.on('error', (error) => assert.fail(error));
  session.pause();
  const seen = [];
  session.on('message', (message) => seen.push(message.toString()));
  session.on('end', () => seen.push('<end>'));
  socket.end(Buffer.concat([messageFrame(Buffer.from('x')), messageFrame(Buffer.from('y'))]));
  await delay();
  assert.deepEqual(seen, []);
  const ended = nextEvent(session, 'end');
  session.resume();
  await ended;
  assert.deepEqual(seen, ['x', 'y', '<end>']);
});

test("COMPAT events: 'error' is emitted for socket errors (the peer resets the connection)", async (t) => {
  const { session, socket } = await establishedOverTcp(t);
  const failed = nextEvent(session, 'error');
  socket.resetAndDestroy();
  const [error] = await failed;
  assert.ok(error instanceof Error);
  assert.equal(error.code, 'ECONNRESET');
  // The session is closed afterwards: writes report instead of throwing.
  const [late] = await new Promise((resolve) => session.write(Buffer.from('x'), (...args) => resolve(args)));
  assert.ok(late instanceof Error);
});

test("COMPAT events: 'drain' is forwarded from the socket", async () => {
  // A sink that completes writes only when released.
  const sink = recordingDuplex({ hold: true });
  const session = await attachedDirect(sink);
  let drains = 0;
  session.on('drain', () => {
    drains += 1;
  });
  assert.equal(session.write(Buffer.alloc(64 * 1024)), false, 'write() returns false over the high-water mark');
  await delay(20);
  assert.equal(drains, 0, "no 'drain' while the write is pending");
  const drained = nextEvent(session, 'drain');
  sink.release();
  await drained;
  assert.equal(drains, 1);
  session.end();
  sink.release();
});
