'use strict';
// write(): one SESSION MESSAGE per call, its return value and 'drain', its
// callback, the length limit, writing before a session exists, empty
// messages, and header + payload leaving in a single write.

const net = require('node:net');
const test = require('node:test');
const assert = require('node:assert/strict');

const NetbiosSession = require('..');
const {
  REQUEST,
  POSITIVE,
  nextEvent,
  reader,
  messageFrame,
  delay,
  pattern,
  recordingDuplex,
  duplexPair,
  listen,
  asyncCallback,
  attachAnswering,
  establishedOverTcp,
  callerAwaitingResponse,
  attachedDirect,
} = require('./helpers');

/** An established session (the caller) and the raw loopback peer: `socket`, and `peer` reading it unless `read: false`. */
function established(t, options, { read = true } = {}) {
  return establishedOverTcp(t, options, { read });
}

// ---- one frame per write ------------------------------------------------------

test('COMPAT write: write(msg) sends one SESSION MESSAGE (header + payload) and returns true when flushed', async (t) => {
  const { session, peer } = await established(t);
  session.on('error', (error) => assert.fail(error));
  const payload = Buffer.from('hello, NetBIOS');
  assert.equal(session.write(payload), true);
  assert.deepEqual(await peer.read(4), Buffer.from([0x00, 0x00, 0x00, payload.length]));
  assert.deepEqual(await peer.read(payload.length), payload);

  // Several writes: one frame each, in order.
  const payloads = [pattern(1, 1), pattern(300, 2), pattern(70000, 3), pattern(131071, 4)];
  for (const p of payloads) session.write(p);
  for (const p of payloads) assert.deepEqual(await peer.read(4 + p.length), messageFrame(p));
  // Strings and Uint8Arrays are messages too.
  session.write(new Uint8Array([1, 2, 3]));
  assert.deepEqual(await peer.read(7), Buffer.from([0, 0, 0, 3, 1, 2, 3]));
});

test('COMPAT write: the largest message (131071 bytes) goes out with the E bit: 00 01 ff ff', async (t) => {
  const { session, peer } = await established(t);
  session.on('error', (error) => assert.fail(error));
  const payload = pattern(131071, 9);
  session.write(payload);
  assert.deepEqual(await peer.read(4), Buffer.from([0x00, 0x01, 0xff, 0xff]));
  assert.deepEqual(await peer.read(131071), payload);
});

test("COMPAT write: returns false when the kernel buffer fills and 'drain' follows once the peer reads", async (t) => {
  const { session, socket } = await established(t, undefined, { read: false });
  session.on('error', (error) => assert.fail(error));
  const message = pattern(64 * 1024, 5);
  // The peer reads nothing. Write until write() says wait and no 'drain'
  // comes within 500 ms: the kernel buffers are full.
  let sent = 0;
  let stalled = false;
  while (!stalled && sent < 2000) {
    const flushed = session.write(message);
    sent += 1;
    if (!flushed) {
      const drained = await nextEvent(session, 'drain', 500).then(
        () => true,
        () => false
      );
      stalled = !drained;
    }
  }
  assert.equal(stalled, true, `write() kept draining after ${sent} messages of 64 KiB`);
  assert.equal(session.write(Buffer.alloc(8)), false, 'write() keeps returning false while the buffer is full');
  sent += 1;

  // The peer now reads everything: 'drain' comes, and every message is intact.
  const drained = nextEvent(session, 'drain');
  const peer = reader(socket);
  for (let i = 0; i < sent - 1; i++) {
    assert.deepEqual(await peer.read(4), Buffer.from([0x00, 0x01, 0x00, 0x00]), `header of message ${i}`);
    assert.ok((await peer.read(message.length)).equals(message), `payload of message ${i}`);
  }
  assert.deepEqual(await peer.read(12), messageFrame(Buffer.alloc(8)));
  await drained;
  // With room again, a small message is handed over at once.
  assert.equal(session.write(Buffer.from('small')), true);
  assert.deepEqual(await peer.read(9), messageFrame(Buffer.from('small')));
});

test("COMPAT write: small messages coalesced into one socket write still return false at the high-water mark, and 'drain' always follows", async (t) => {
  // Small writes are batched per tick; write() must say "wait" by the same
  // rule as a socket (its buffer at the high-water mark, the kernel's full),
  // and a 'drain' must follow.
  const { session, peer } = await established(t);
  session.on('error', (error) => assert.fail(error));
  const message = pattern(64, 6);
  const frames = [];
  for (let round = 0; round < 20; round++) {
    let writes = 0;
    while (session.write(message)) {
      writes += 1;
      assert.ok(writes < 100000, 'write() never returned false');
    }
    frames.push(writes + 1);
    await nextEvent(session, 'drain', 2000);
  }
  const total = frames.reduce((a, b) => a + b, 0);
  for (let i = 0; i < total; i++) assert.deepEqual(await peer.read(68), messageFrame(message), `message ${i}`);
});

test("write: replies written in 'message' handlers leave in one socket write once the chunk is delivered", async () => {
  // A server answering each message of a chunk sends every answer together,
  // as soon as the chunk's messages are delivered, not a tick later.
  const stream = recordingDuplex();
  const session = await attachedDirect(stream);
  const order = [];
  session.on('message', (message) => {
    const reply = Buffer.concat([Buffer.from('re:'), message]);
    session.write(reply, (error) => order.push(error ?? reply.toString()));
  });
  const before = stream.calls.length;
  stream.push(Buffer.concat(['a', 'bb', 'ccc'].map((text) => messageFrame(Buffer.from(text)))));
  // push() delivered the chunk synchronously; the replies are written by now.
  assert.equal(stream.calls.length, before + 1, 'one write for the three replies');
  const expected = ['re:a', 're:bb', 're:ccc'];
  assert.deepEqual(Buffer.concat(stream.calls[before]), Buffer.concat(expected.map((text) => messageFrame(Buffer.from(text)))));
  await delay(10);
  assert.deepEqual(order, expected, 'each callback once, in order');
  session.destroy();
});

test("write: a 'message' handler that writes and then throws still gets its reply sent, and later writes too", async () => {
  // The reply waits for the end of delivery; the exception ends delivery
  // early, so the reply must still go out (on the next tick).
  const [local, remote] = duplexPair();
  const received = reader(remote);
  const session = await attachedDirect(local);
  const callbacks = [];
  session.on('message', (message) => {
    if (message.toString() === 'q1') {
      session.pause();
      return;
    }
    session.write(Buffer.from(`re:${message}`), (error) => callbacks.push(error ?? 'reply'));
    throw new Error('handler bug');
  });
  remote.write(Buffer.concat([messageFrame(Buffer.from('q1')), messageFrame(Buffer.from('q2'))]));
  await delay(10);
  // resume() delivers q2 synchronously, so its handler's exception surfaces here.
  assert.throws(() => session.resume(), /handler bug/);
  assert.deepEqual(await received.read(9), messageFrame(Buffer.from('re:q2')));
  session.write(Buffer.from('later'), (error) => callbacks.push(error ?? 'later'));
  assert.deepEqual(await received.read(9), messageFrame(Buffer.from('later')));
  await delay(10);
  assert.deepEqual(callbacks, ['reply', 'later']);
  session.destroy();
});

test("write: a reply to a held message after the socket closed fails with ERR_NETBIOS_NOT_CONNECTED", async (t) => {
  const events = [];
  let replied;
  const reply = new Promise((resolve) => {
    replied = resolve;
  });
  const { server, port } = await listen((socket) => {
    const session = new NetbiosSession({ direct: true });
    session.on('error', (error) => events.push(`error ${error.code}`));
    for (const name of ['end', 'close']) session.on(name, () => events.push(name));
    session.on('message', (message) => {
      if (message.toString() === 'q1') {
        // q2 is held until the socket has closed.
        session.pause();
        socket.once('close', () => session.resume());
        return;
      }
      session.write(Buffer.from(`re:${message}`), (error) => {
        events.push(`reply ${error ? error.code : 'sent'}`);
        replied();
      });
    });
    session.attach(socket);
  });
  t.after(() => server.close());
  const client = net.connect(port, '127.0.0.1', () => {
    client.end(Buffer.concat([messageFrame(Buffer.from('q1')), messageFrame(Buffer.from('q2'))]));
  });
  client.on('error', () => {});
  await reply;
  assert.deepEqual(events, ['end', 'close', 'reply ERR_NETBIOS_NOT_CONNECTED']);
});

test('COMPAT write: per-message callbacks of a coalesced batch each run once, in order', async (t) => {
  const { session, peer } = await established(t);
  const order = [];
  const done = new Promise((resolve) => {
    for (let i = 0; i < 50; i++) {
      session.write(pattern(10 + i, i), (error) => {
        order.push(error ?? i);
        if (order.length === 50) resolve();
      });
    }
  });
  await done;
  assert.deepEqual(order, Array.from({ length: 50 }, (_, i) => i));
  for (let i = 0; i < 50; i++) assert.deepEqual(await peer.read(14 + i), messageFrame(pattern(10 + i, i)));
});

test('COMPAT write: callback(error) runs once, with no error, after the message is written', async (t) => {
  const { session, peer } = await established(t);
  session.on('error', (error) => assert.fail(error));
  for (const length of [10, 100000]) {
    let calls = 0;
    const payload = pattern(length, length);
    const done = asyncCallback((callback) => {
      session.write(payload, (...args) => {
        calls += 1;
        callback(...args);
      });
    });
    const [error] = await done;
    assert.equal(error == null, true, `no error expected, got ${error}`);
    assert.deepEqual(await peer.read(4 + length), messageFrame(payload));
    await delay(10);
    assert.equal(calls, 1);
  }
});

// ---- the length limit ---------------------------------------------------------------

test("COMPAT write: a message over MAX_MESSAGE_LENGTH emits 'error' and calls back with 'Message length [131072] exceeds maximum [131071]'; nothing is sent", async (t) => {
  const { session, peer } = await established(t);
  assert.equal(NetbiosSession.MAX_MESSAGE_LENGTH, 131071);
  const emitted = [];
  session.on('error', (error) => emitted.push(error));
  const called = [];
  let returned;
  const done = new Promise((resolve) => {
    returned = session.write(Buffer.alloc(131072, 0x41), (error) => {
      called.push(error);
      resolve();
    });
  });
  assert.equal(returned, false);
  await done;
  await delay(10);
  assert.equal(called.length, 1);
  assert.equal(emitted.length, 1);
  for (const error of [called[0], emitted[0]]) {
    assert.ok(error instanceof Error);
    assert.equal(error.message, 'Message length [131072] exceeds maximum [131071]');
    assert.equal(error.code, 'ERR_NETBIOS_MESSAGE_TOO_LONG');
  }

  // Nothing was sent, and the session still works: the next valid message
  // is the first thing the peer reads.
  await delay();
  session.write(Buffer.from('next'));
  assert.deepEqual(await peer.read(8), messageFrame(Buffer.from('next')));
});

test("COMPAT write: an oversized message without a callback emits 'error' only", async (t) => {
  const { session, peer } = await established(t);
  const failed = nextEvent(session, 'error');
  assert.equal(session.write(Buffer.alloc(200000)), false);
  const [error] = await failed;
  assert.equal(error.message, 'Message length [200000] exceeds maximum [131071]');
  assert.equal(error.code, 'ERR_NETBIOS_MESSAGE_TOO_LONG');
  session.write(Buffer.from('ok'));
  assert.deepEqual(await peer.read(6), messageFrame(Buffer.from('ok')));
});

// ---- writing without a session (COMPAT difference 4) ------------------------------

test('COMPAT difference 4: write() before connect/attach calls back with ERR_NETBIOS_NOT_CONNECTED, returns false, never throws', async () => {
  const session = new NetbiosSession();
  let errors = 0;
  session.on('error', () => {
    errors += 1;
  });
  let result;
  const done = asyncCallback((callback) => {
    result = session.write(Buffer.from('too early'), callback);
  });
  assert.equal(result, false);
  const [error] = await done;
  assert.ok(error instanceof Error);
  assert.equal(error.code, 'ERR_NETBIOS_NOT_CONNECTED');
  await delay(10);
  assert.equal(errors, 0, "with a callback the error does not also go to 'error'");
});

test("COMPAT difference 4: write() before connect/attach without a callback emits 'error', returns false, never throws", async () => {
  const session = new NetbiosSession();
  const failed = nextEvent(session, 'error');
  assert.equal(session.write(Buffer.from('too early')), false);
  const [error] = await failed;
  assert.ok(error instanceof Error);
  assert.equal(error.code, 'ERR_NETBIOS_NOT_CONNECTED');
});

test('COMPAT difference 4: write() while the handshake is still under way reports ERR_NETBIOS_NOT_CONNECTED', async (t) => {
  const { session, peer: socket, peerIn: peer } = await callerAwaitingResponse(t);
  session.on('error', () => {});
  const [error] = await new Promise((resolve) => {
    assert.equal(session.write(Buffer.from('early'), (...args) => resolve(args)), false);
  });
  assert.equal(error.code, 'ERR_NETBIOS_NOT_CONNECTED');
  // Nothing but the request went out.
  socket.write(POSITIVE);
  await nextEvent(session, 'connect');
  session.write(Buffer.from('now'));
  assert.deepEqual(await peer.read(7), messageFrame(Buffer.from('now')));
  session.end();
});

// ---- empty messages ---------------------------------------------------------------------

test("COMPAT write: a zero-length message is 00 00 00 00 on the wire and arrives as an empty Buffer 'message'", async (t) => {
  const { session, socket, peer } = await established(t);
  session.on('error', (error) => assert.fail(error));
  assert.equal(session.write(Buffer.alloc(0)), true);
  assert.deepEqual(await peer.read(4), Buffer.from([0x00, 0x00, 0x00, 0x00]));

  const received = [];
  session.on('message', (message) => received.push(message));
  socket.write(Buffer.from([0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x7a]));
  while (received.length < 2) await nextEvent(session, 'message');
  assert.ok(Buffer.isBuffer(received[0]));
  assert.equal(received[0].length, 0);
  assert.deepEqual(received[1], Buffer.from('z'));
});

// ---- one write per frame ------------------------------------------------------------------

/** Splits recorded calls into frames, checking that each frame lies within one call. */
function framesPerCall(calls) {
  const frames = [];
  for (const [index, chunks] of calls.entries()) {
    const data = Buffer.concat(chunks);
    let at = 0;
    while (at < data.length) {
      assert.ok(at + 4 <= data.length, `call ${index} ends inside a frame header`);
      const length = ((data[at + 1] & 0x01) << 16) | data.readUInt16BE(at + 2);
      assert.ok(
        at + 4 + length <= data.length,
        `call ${index} holds the header of a ${length}-byte message but not all of its payload`
      );
      frames.push({ call: index, type: data[at], payload: data.subarray(at + 4, at + 4 + length) });
      at += 4 + length;
    }
  }
  return frames;
}

for (const slow of [false, true]) {
  test(`COMPAT write: header and payload go out in one write/writev call (100 and 100000 bytes${slow ? ', slow sink' : ''})`, async () => {
    const stream = recordingDuplex({ slow });
    const session = new NetbiosSession();
    session.on('error', (error) => assert.fail(error));
    const connected = nextEvent(session, 'connect');
    const pending = new Promise((resolve) => {
      attachAnswering(session, stream, (request) => {
        request.accept();
        resolve();
      });
    });
    stream.push(REQUEST);
    await pending;
    await connected;

    const small = pattern(100, 1);
    const large = pattern(100000, 2);
    const payloads = [small, large, small, large, large];
    const written = payloads.map((payload) => new Promise((resolve) => session.write(payload, resolve)));
    await Promise.all(written);

    const frames = framesPerCall(stream.calls);
    assert.deepEqual(frames[0].type, 0x82, 'the positive response comes first');
    const messages = frames.slice(1);
    assert.equal(messages.length, payloads.length);
    messages.forEach((frame, i) => {
      assert.equal(frame.type, 0x00);
      assert.ok(frame.payload.equals(payloads[i]), `payload ${i} intact`);
    });
    session.end();
  });
}
