'use strict';
// pause()/resume() flow control (over TCP and in memory), negotiation while
// paused, pausing inside a 'message' handler, end(), and the 'end', 'error'
// and 'drain' events.

const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('net');
const { Duplex } = require('stream');

const NetbiosSession = require('..');
const {
  TIMEOUT,
  nextEvent,
  listen,
  rawServer,
  reader,
  duplexPair,
  encodeName,
  requestFrame,
  messageFrame,
} = require('./helpers');

const POSITIVE = Buffer.from([0x82, 0x00, 0x00, 0x00]);
const REQUEST = requestFrame(encodeName('DST', 0x20), encodeName('SRC', 0x00));

/** Reads exactly n bytes with read(), leaving the socket paused afterwards. */
function readExactly(socket, n) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${n} bytes`)), TIMEOUT);
    const tryRead = () => {
      const chunk = socket.read(n);
      if (chunk === null) return;
      clearTimeout(timer);
      socket.removeListener('readable', tryRead);
      resolve(chunk);
    };
    socket.on('readable', tryRead);
    tryRead();
  });
}

/**
 * An established session (the caller) and the raw loopback peer's socket.
 * The peer's socket is left unread (paused); `extra` is sent right behind
 * the positive response, in the same write.
 */
async function established(t, options, extra = Buffer.alloc(0)) {
  const raw = await rawServer();
  t.after(() => raw.close());
  const session = new NetbiosSession(options);
  const done = new Promise((resolve, reject) => {
    session.connect(raw.port, '127.0.0.1', 'DST', 'SRC', (error) => (error ? reject(error) : resolve()));
  });
  const socket = await raw.accepted();
  t.after(() => socket.destroy());
  assert.deepEqual(await readExactly(socket, REQUEST.length), REQUEST);
  socket.write(Buffer.concat([POSITIVE, extra]));
  await done;
  t.after(() => session.end());
  return { session, socket };
}

function settle(ms = 50) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

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

  const { session, socket } = await established(t);
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
  const session = new NetbiosSession({ direct: true });
  session.on('error', (error) => assert.fail(error));
  const connected = nextEvent(session, 'connect');
  session.attach(local);
  await connected;
  session.pause();
  const received = [];
  session.on('message', (message) => received.push(message.toString()));
  for (const text of ['one', 'two', 'three']) remote.write(messageFrame(Buffer.from(text)));
  await settle();
  assert.deepEqual(received, []);
  session.resume();
  await collected(session, received, 3);
  assert.deepEqual(received, ['one', 'two', 'three']);
  // Pausing again holds new messages again.
  session.pause();
  remote.write(messageFrame(Buffer.from('four')));
  await settle();
  assert.deepEqual(received, ['one', 'two', 'three']);
  session.resume();
  await collected(session, received, 4);
  assert.deepEqual(received, ['one', 'two', 'three', 'four']);
  session.end();
  remote.destroy();
});

// ---- negotiation while paused -------------------------------------------------------

test("COMPAT pause: with {paused: true} attach + accept completes and emits 'connect', but no 'message' until resume() (tcp)", async (t) => {
  let resolveAccepted;
  const accepted = new Promise((resolve) => {
    resolveAccepted = resolve;
  });
  const { server, port } = await listen((socket) => resolveAccepted(socket));
  t.after(() => server.close());
  const client = net.connect(port, '127.0.0.1');
  client.on('error', () => {});
  t.after(() => client.destroy());
  await nextEvent(client, 'connect');
  const local = await accepted;
  t.after(() => local.destroy());
  const peer = reader(client);

  const session = new NetbiosSession({ paused: true });
  session.on('error', (error) => assert.fail(error));
  const received = [];
  session.on('message', (message) => received.push(message.toString()));
  const connected = nextEvent(session, 'connect');
  session.attach(local, (error, request) => {
    assert.equal(error, null);
    request.accept();
  });
  client.write(REQUEST);
  await connected;
  assert.deepEqual(await peer.read(4), POSITIVE);
  client.write(Buffer.concat([messageFrame(Buffer.from('early')), messageFrame(Buffer.from('later'))]));
  await settle();
  assert.deepEqual(received, [], "no 'message' while paused");
  session.resume();
  await collected(session, received, 2);
  assert.deepEqual(received, ['early', 'later']);
  session.end();
});

test("COMPAT pause: with {paused: true} attach + accept completes and emits 'connect', but no 'message' until resume() (in memory)", async () => {
  const [local, remote] = duplexPair();
  const peer = reader(remote);
  const session = new NetbiosSession({ paused: true });
  session.on('error', (error) => assert.fail(error));
  const received = [];
  session.on('message', (message) => received.push(message.toString()));
  const connected = nextEvent(session, 'connect');
  session.attach(local, (error, request) => {
    assert.equal(error, null);
    setTimeout(() => request.accept(), 10);
  });
  remote.write(REQUEST);
  await connected;
  assert.deepEqual(await peer.read(4), POSITIVE);
  remote.write(messageFrame(Buffer.from('early')));
  await settle();
  assert.deepEqual(received, []);
  session.resume();
  await collected(session, received, 1);
  assert.deepEqual(received, ['early']);
  session.end();
  remote.destroy();
});

test('COMPAT pause: pause() before the request arrives does not stop negotiation (attach)', async () => {
  const [local, remote] = duplexPair();
  const peer = reader(remote);
  const session = new NetbiosSession({ autoAccept: true });
  session.on('error', (error) => assert.fail(error));
  const received = [];
  session.on('message', (message) => received.push(message.toString()));
  const connected = nextEvent(session, 'connect');
  session.attach(local);
  session.pause();
  remote.write(REQUEST);
  await connected;
  assert.deepEqual(await peer.read(4), POSITIVE);
  remote.write(messageFrame(Buffer.from('held')));
  await settle();
  assert.deepEqual(received, []);
  session.resume();
  await collected(session, received, 1);
  assert.deepEqual(received, ['held']);
  session.end();
  remote.destroy();
});

test("COMPAT pause: with {paused: true} connect() completes, calls back and emits 'connect', but no 'message' until resume()", async (t) => {
  const raw = await rawServer();
  t.after(() => raw.close());
  const session = new NetbiosSession({ paused: true });
  session.on('error', (error) => assert.fail(error));
  const received = [];
  session.on('message', (message) => received.push(message.toString()));
  const connected = nextEvent(session, 'connect');
  const done = new Promise((resolve) => session.connect(raw.port, '127.0.0.1', 'DST', 'SRC', resolve));
  const socket = await raw.accepted();
  t.after(() => socket.destroy());
  const peer = reader(socket);
  assert.deepEqual(await peer.read(REQUEST.length), REQUEST);
  // The positive response and a first message in one chunk.
  socket.write(Buffer.concat([POSITIVE, messageFrame(Buffer.from('first'))]));
  assert.equal(await done, undefined);
  await connected;
  socket.write(messageFrame(Buffer.from('second')));
  await settle();
  assert.deepEqual(received, [], "no 'message' while paused");
  session.resume();
  await collected(session, received, 2);
  assert.deepEqual(received, ['first', 'second']);
  session.end();
});

// ---- pause() inside a handler -------------------------------------------------------------

test("COMPAT pause: pause() inside a 'message' handler holds the next message from the same chunk; resume() delivers it before later ones", async (t) => {
  // Two frames in one raw write, so they reach the session in one chunk.
  const { session, socket } = await established(t);
  session.on('error', (error) => assert.fail(error));
  const received = [];
  session.on('message', (message) => {
    received.push(message.toString());
    if (received.length === 1) session.pause();
  });
  socket.write(Buffer.concat([messageFrame(Buffer.from('A')), messageFrame(Buffer.from('B'))]));
  await collected(session, received, 1);
  await settle();
  assert.deepEqual(received, ['A'], 'B is held after pause() in the handler');

  socket.write(messageFrame(Buffer.from('C')));
  await settle();
  assert.deepEqual(received, ['A']);

  session.resume();
  await collected(session, received, 3);
  assert.deepEqual(received, ['A', 'B', 'C']);
});

test("COMPAT pause: pause() in every 'message' handler lets exactly one held message through per resume() (one chunk)", async () => {
  const [local, remote] = duplexPair();
  const session = new NetbiosSession({ direct: true });
  session.on('error', (error) => assert.fail(error));
  const connected = nextEvent(session, 'connect');
  session.attach(local);
  await connected;
  const received = [];
  session.on('message', (message) => {
    received.push(message.toString());
    session.pause();
  });
  const texts = ['m1', 'm2', 'm3', 'm4'];
  remote.write(Buffer.concat(texts.map((text) => messageFrame(Buffer.from(text)))));
  await collected(session, received, 1);
  await settle(20);
  assert.deepEqual(received, ['m1']);
  for (let i = 2; i <= texts.length; i++) {
    session.resume();
    await collected(session, received, i);
    await settle(20);
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
  const { session, socket } = await established(t);
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
  const { session, socket } = await established(t);
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
  const { session, socket } = await established(t);
  session.on('error', (error) => assert.fail(error));
  session.pause();
  const seen = [];
  session.on('message', (message) => seen.push(message.toString()));
  session.on('end', () => seen.push('<end>'));
  socket.end(Buffer.concat([messageFrame(Buffer.from('x')), messageFrame(Buffer.from('y'))]));
  await settle();
  assert.deepEqual(seen, []);
  const ended = nextEvent(session, 'end');
  session.resume();
  await ended;
  assert.deepEqual(seen, ['x', 'y', '<end>']);
});

test("COMPAT events: 'error' is emitted for socket errors (the peer resets the connection)", async (t) => {
  const { session, socket } = await established(t);
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
  const held = [];
  const sink = new Duplex({
    read() {},
    write(chunk, encoding, callback) {
      held.push(callback);
    },
    writev(chunks, callback) {
      held.push(callback);
    },
  });
  const release = () => {
    while (held.length) held.shift()();
  };
  const session = new NetbiosSession({ direct: true });
  session.on('error', (error) => assert.fail(error));
  const connected = nextEvent(session, 'connect');
  session.attach(sink);
  await connected;
  let drains = 0;
  session.on('drain', () => {
    drains += 1;
  });
  assert.equal(session.write(Buffer.alloc(64 * 1024)), false, 'write() returns false over the high-water mark');
  await settle(20);
  assert.equal(drains, 0, "no 'drain' while the write is pending");
  const drained = nextEvent(session, 'drain');
  release();
  await drained;
  assert.equal(drains, 1);
  session.end();
  release();
});
