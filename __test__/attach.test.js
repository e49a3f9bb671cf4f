'use strict';
// attach(): the called side of the handshake, the default policy without a
// callback, the already-active check and direct mode. Every handshake test
// runs over real loopback TCP and over an in-memory duplex pair.

const test = require('node:test');
const assert = require('node:assert/strict');

const NetbiosSession = require('..');
const {
  POSITIVE,
  nextEvent,
  listen,
  reader,
  duplexPair,
  encodeName,
  requestFrame,
  messageFrame,
  delay,
  tcpPair,
  asyncCallback,
  attachAnswering,
  recordEvents,
  settle,
  SESSION_EVENTS,
} = require('./helpers');

const REASONS = [
  ['Not listening on called name', 0x80],
  ['Not listening for calling name', 0x81],
  ['Called name not present', 0x82],
  ['Called name present, but insufficient resources', 0x83],
  ['Unspecified error', 0x8f],
];

/**
 * Transports a session can be attached to. Each returns `local` (handed to
 * attach()), `remote` (the raw peer's end), `peer` (a reader on `remote`)
 * and `close()`.
 */
const TRANSPORTS = {
  async tcp() {
    const pair = await tcpPair();
    pair.local.on('error', () => {});
    return { ...pair, peer: reader(pair.remote) };
  },
  async memory() {
    const [local, remote] = duplexPair();
    return {
      local,
      remote,
      peer: reader(remote),
      close() {
        remote.destroy();
        local.destroy();
      },
    };
  },
};

/** Registers `body(t, transport)` once per transport. */
function bothTransports(title, body) {
  for (const [kind, open] of Object.entries(TRANSPORTS)) {
    test(`${title} (${kind})`, async (t) => {
      const transport = await open();
      t.after(() => transport.close());
      await body(t, transport);
    });
  }
}

/** Resolves with the `request` handed to attach()'s callback. */
function attachAndWait(session, socket) {
  return new Promise((resolve, reject) => {
    session.attach(socket, (error, request) => {
      if (error) reject(error);
      else resolve(request);
    });
  });
}

function defaultRequest() {
  return requestFrame(encodeName('DST', 0x20), encodeName('Src', 0x00));
}

/**
 * A new session (`options`; any 'error' fails the test) attach()ed to
 * `local` with a callback, and the request handed to that callback once the
 * peer has sent defaultRequest() on `remote`.
 */
async function requested(local, remote, options) {
  const session = new NetbiosSession(options);
  session.on('error', (error) => assert.fail(error));
  const pending = attachAndWait(session, local);
  remote.write(defaultRequest());
  return { session, request: await pending };
}

/** A NEGATIVE SESSION RESPONSE with error code `code`. */
function negative(code) {
  return Buffer.from([0x83, 0x00, 0x00, 0x01, code]);
}

/** The peer reads a negative response with `code`, then the end of the stream (the socket was ended once flushed). */
async function assertRejected(peer, code) {
  assert.deepEqual(await peer.read(5), negative(code));
  assert.equal((await peer.rest()).length, 0);
}

// ---- the request handed to the callback ------------------------------------

bothTransports('COMPAT attach: waits for one SESSION REQUEST and calls back (null, request) with name objects', async (t, { local, remote }) => {
  const session = new NetbiosSession();
  session.on('error', () => {});
  let calls = 0;
  const got = new Promise((resolve) => {
    session.attach(local, (error, request) => {
      calls += 1;
      resolve([error, request]);
    });
  });
  // Send the request in two pieces: the callback must wait for all of it.
  const frame = requestFrame(encodeName('MyServer', 0x20), encodeName('client1', 0x00));
  remote.write(frame.subarray(0, 20));
  await delay(20);
  assert.equal(calls, 0, 'no callback before the whole request arrived');
  remote.write(frame.subarray(20));
  const [error, request] = await got;
  assert.equal(error, null);
  assert.equal(calls, 1);

  const { callTo, callFrom } = request;
  assert.equal(callTo.name, 'MyServer', 'name unpadded, case kept');
  assert.equal(callTo.suffix, 0x20);
  assert.equal(callTo.scopeId, '');
  assert.equal(callTo.fqdn, 'MyServer');
  assert.equal(callTo.usage, 'File Server Service');
  assert.equal(String(callTo), 'MyServer<20>');

  assert.equal(callFrom.name, 'client1');
  assert.equal(callFrom.suffix, 0x00);
  assert.equal(callFrom.scopeId, '');
  assert.equal(callFrom.fqdn, 'client1');
  assert.equal(callFrom.usage, 'Workstation Service');
  assert.equal(callFrom.toString(), 'client1<00>');
  assert.equal(typeof request.accept, 'function');
  assert.equal(typeof request.reject, 'function');
  request.reject();
});

bothTransports('COMPAT module shape: request names carry scopeId, fqdn, usage and NAME<1b>.scope notation', async (t, { local, remote }) => {
  const session = new NetbiosSession();
  session.on('error', () => {});
  const pending = attachAndWait(session, local);
  remote.write(requestFrame(encodeName('DST', 0x1b, 'corp.example'), encodeName('WkStn', 0x99, 'corp.example')));
  const request = await pending;
  assert.equal(request.callTo.name, 'DST');
  assert.equal(request.callTo.suffix, 0x1b);
  assert.equal(request.callTo.scopeId, 'corp.example');
  assert.equal(request.callTo.fqdn, 'DST.corp.example');
  assert.equal(request.callTo.usage, 'Domain Master Browser');
  assert.equal(String(request.callTo), 'DST<1b>.corp.example');
  assert.equal(request.callFrom.name, 'WkStn');
  assert.equal(request.callFrom.suffix, 0x99);
  assert.equal(request.callFrom.usage, 'Unknown', "'Unknown' for a suffix without a usage");
  assert.equal(String(request.callFrom), 'WkStn<99>.corp.example');
  request.reject();
});

// ---- accept -----------------------------------------------------------------

bothTransports('COMPAT attach: request.accept() emits connect and sends a positive response', async (t, { local, remote, peer }) => {
  const { session, request } = await requested(local, remote);
  let connected = 0;
  session.on('connect', () => {
    connected += 1;
  });
  request.accept();
  assert.deepEqual(await peer.read(4), POSITIVE);
  if (connected === 0) await nextEvent(session, 'connect');
  assert.equal(connected, 1);

  // The session is established: messages flow both ways.
  const message = nextEvent(session, 'message');
  remote.write(messageFrame(Buffer.from('ping')));
  const [received] = await message;
  assert.deepEqual(received, Buffer.from('ping'));
  session.write(Buffer.from('pong'));
  assert.deepEqual(await peer.read(8), messageFrame(Buffer.from('pong')));
  session.end();
});

bothTransports("COMPAT attach: 'connect' from accept() is asynchronous (a listener added after accept() sees it)", async (t, { local, remote, peer }) => {
  const { session, request } = await requested(local, remote);
  let emitted = false;
  session.on('connect', () => {
    emitted = true;
  });
  request.accept();
  assert.equal(emitted, false, "'connect' must not be emitted synchronously inside accept()");
  await nextEvent(session, 'connect');
  assert.deepEqual(await peer.read(4), POSITIVE);
  session.end();
});

bothTransports("attach: accept() inside the attach callback: 'connect' follows once the callback has returned", async (t, { local, remote, peer }) => {
  const session = new NetbiosSession();
  session.on('error', (error) => assert.fail(error));
  const seen = [];
  session.attach(local, (error, request) => {
    assert.ifError(error);
    request.accept();
    seen.push('accepted');
    // Added after accept(), still inside the callback: sees 'connect'.
    session.on('connect', () => seen.push('connect'));
  });
  const connected = nextEvent(session, 'connect');
  remote.write(defaultRequest());
  await connected;
  assert.deepEqual(seen, ['accepted', 'connect']);
  assert.deepEqual(await peer.read(4), POSITIVE);
  session.end();
});

test("attach: a callback that accepts and then throws still gets 'connect' emitted (memory)", async () => {
  // 'connect' waits for the end of delivery; the exception ends it early.
  const [local, remote] = duplexPair();
  const peer = reader(remote);
  const session = new NetbiosSession();
  session.on('error', (error) => assert.fail(error));
  session.attach(local, (error, request) => {
    assert.ifError(error);
    request.accept();
    throw new Error('bug after accept');
  });
  const connected = nextEvent(session, 'connect');
  await delay(10);
  // Once flowing, the pair delivers synchronously: the callback's exception surfaces here.
  assert.throws(() => remote.write(defaultRequest()), /bug after accept/);
  await connected;
  assert.deepEqual(await peer.read(4), POSITIVE);
  session.end();
});

test("COMPAT attach: a message arriving right after accept() is delivered after 'connect' (memory)", async () => {
  const [local, remote] = duplexPair();
  const { session, request } = await requested(local, remote);
  const order = [];
  session.on('connect', () => order.push('connect'));
  session.on('message', (message) => order.push(`message:${message}`));
  request.accept();
  // In memory this reaches the session before 'connect' has been emitted.
  remote.write(messageFrame(Buffer.from('quick')));
  await nextEvent(session, 'message');
  assert.deepEqual(order, ['connect', 'message:quick']);
  session.end();
  remote.destroy();
});

// ---- reject -----------------------------------------------------------------

for (const [reason, code] of REASONS) {
  bothTransports(
    `COMPAT attach: request.reject('${reason}') sends 83 00 00 01 ${code.toString(16)} and ends the socket once flushed`,
    async (t, { local, remote, peer }) => {
      const { session, request } = await requested(local, remote);
      let connected = false;
      session.on('connect', () => {
        connected = true;
      });
      request.reject(reason);
      // The socket was ended (FIN) after the response: nothing else follows.
      await assertRejected(peer, code);
      assert.equal(connected, false);
    }
  );
}

for (const [label, reason] of [
  ['an unknown reason', 'No such reason'],
  ['a missing reason', undefined],
]) {
  bothTransports(`COMPAT attach: request.reject() with ${label} sends 0x8F Unspecified error`, async (t, { local, remote, peer }) => {
    const { request } = await requested(local, remote);
    if (reason === undefined) request.reject();
    else request.reject(reason);
    await assertRejected(peer, 0x8f);
  });
}

// ---- request.accept / request.reject become null ---------------------------

for (const answer of ['accept', 'reject']) {
  bothTransports(`COMPAT attach: after request.${answer}(), request.accept and request.reject are both null`, async (t, { local, remote, peer }) => {
    const { session, request } = await requested(local, remote);
    request[answer]();
    assert.equal(request.accept, null);
    assert.equal(request.reject, null);
    const expected = answer === 'accept' ? POSITIVE : negative(0x8f);
    assert.deepEqual(await peer.read(expected.length), expected);
    assert.equal(request.accept, null);
    assert.equal(request.reject, null);
    session.end();
  });
}

// ---- answering later --------------------------------------------------------

bothTransports('COMPAT attach: request.accept() may be called later, asynchronously', async (t, { local, remote, peer }) => {
  const session = new NetbiosSession();
  session.on('error', (error) => assert.fail(error));
  const connected = nextEvent(session, 'connect');
  attachAnswering(session, local, (request) => setTimeout(() => request.accept(), 30));
  remote.write(defaultRequest());
  await connected;
  assert.deepEqual(await peer.read(4), POSITIVE);
  const message = nextEvent(session, 'message');
  remote.write(messageFrame(Buffer.from('after')));
  assert.deepEqual((await message)[0], Buffer.from('after'));
  session.end();
});

bothTransports('COMPAT attach: request.reject() may be called later, asynchronously', async (t, { local, remote, peer }) => {
  const session = new NetbiosSession();
  session.on('error', (error) => assert.fail(error));
  attachAnswering(session, local, (request) => setTimeout(() => request.reject('Called name not present'), 30));
  remote.write(defaultRequest());
  await assertRejected(peer, 0x82);
});

// ---- already active ---------------------------------------------------------

bothTransports(
  "COMPAT methods: a second attach() on an active session calls back asynchronously with 'Cannot attach Session already active.'",
  async (t, { local, remote, peer }) => {
    const session = new NetbiosSession();
    session.on('error', (error) => assert.fail(error));
    const pending = attachAndWait(session, local);

    // Active while waiting for the request.
    const [spare] = duplexPair();
    const second = asyncCallback((callback) => session.attach(spare, callback), 'the callback must not run before attach() returns');
    const [error, request] = await second;
    assert.ok(error instanceof Error);
    assert.equal(error.message, 'Cannot attach Session already active.');
    assert.equal(error.code, 'ERR_NETBIOS_ALREADY_ACTIVE');
    assert.equal(request, undefined);

    // The first attach is unaffected, and once established it is still active.
    remote.write(defaultRequest());
    (await pending).accept();
    await nextEvent(session, 'connect');
    assert.deepEqual(await peer.read(4), POSITIVE);
    const third = asyncCallback((callback) => session.attach(spare, callback));
    const [again] = await third;
    assert.equal(again.message, 'Cannot attach Session already active.');
    assert.equal(again.code, 'ERR_NETBIOS_ALREADY_ACTIVE');
    spare.destroy();
    session.end();
  }
);

test("COMPAT methods: attach() on a connecting session calls back asynchronously with 'Cannot attach Session already active.'", async (t) => {
  const { port, server } = await listen((socket) => socket.on('error', () => {}));
  t.after(() => server.close());
  const session = new NetbiosSession();
  session.on('error', () => {});
  session.connect(port, '127.0.0.1', 'DST', 'SRC', () => {});
  const [spare] = duplexPair();
  const result = asyncCallback((callback) => session.attach(spare, callback), 'the callback must not run before attach() returns');
  const [error] = await result;
  assert.equal(error.message, 'Cannot attach Session already active.');
  assert.equal(error.code, 'ERR_NETBIOS_ALREADY_ACTIVE');
  session.end();
});

// ---- default policy without a callback (COMPAT difference 2) ---------------

bothTransports('COMPAT difference 2: attach() without a callback and autoAccept false rejects with 0x80', async (t, { local, remote, peer }) => {
  const session = new NetbiosSession();
  session.on('error', (error) => assert.fail(error));
  let connected = false;
  session.on('connect', () => {
    connected = true;
  });
  session.attach(local);
  remote.write(defaultRequest());
  await assertRejected(peer, 0x80);
  assert.equal(connected, false);
});

bothTransports('COMPAT difference 2: attach() without a callback and explicit autoAccept: false (or null options) rejects with 0x80', async (t, { local, remote, peer }) => {
  const session = new NetbiosSession({ autoAccept: false });
  session.on('error', (error) => assert.fail(error));
  session.attach(local, null);
  remote.write(defaultRequest());
  await assertRejected(peer, 0x80);
});

bothTransports("COMPAT difference 2: attach() without a callback and autoAccept true accepts and emits 'connect'", async (t, { local, remote, peer }) => {
  const session = new NetbiosSession({ autoAccept: true });
  session.on('error', (error) => assert.fail(error));
  const connected = nextEvent(session, 'connect');
  session.attach(local);
  remote.write(defaultRequest());
  assert.deepEqual(await peer.read(4), POSITIVE);
  await connected;
  const message = nextEvent(session, 'message');
  remote.write(messageFrame(Buffer.from('hello')));
  assert.deepEqual((await message)[0], Buffer.from('hello'));
  session.end();
});

bothTransports('COMPAT attach: with a callback, autoAccept true still hands the request to the callback', async (t, { local, remote, peer }) => {
  const { request } = await requested(local, remote, { autoAccept: true });
  request.reject('Called name not present');
  assert.deepEqual(await peer.read(5), negative(0x82));
});

// ---- messages pipelined behind the request (COMPAT differences 4 and 7) -------

// A caller may send its first messages in the same segment as its request,
// as Samba's smbd allows: they wait for the answer, arrive after 'connect'
// when it accepts, and go with the connection when it rejects. Never a throw.
const ANSWERS = [
  ['accept() inside the callback', {}, (request) => request.accept(), true],
  ['reject() inside the callback', {}, (request) => request.reject('Called name not present'), false],
  ['no callback, autoAccept true', { autoAccept: true }, null, true],
  ['no callback, autoAccept false', {}, null, false],
];

for (const [label, options, answer, accepted] of ANSWERS) {
  bothTransports(
    `COMPAT difference 7: a SESSION MESSAGE pipelined behind the request is held for the answer (${label})`,
    async (t, { local, remote, peer }) => {
      const session = new NetbiosSession(options);
      const events = recordEvents(session, SESSION_EVENTS);
      attachAnswering(session, local, answer);
      remote.write(Buffer.concat([defaultRequest(), messageFrame(Buffer.from('too soon'))]));
      const answerFrame = await peer.read(4);
      if (accepted) {
        assert.deepEqual(answerFrame, POSITIVE);
        const [[message]] = await events.count('message', 1);
        assert.equal(String(message), 'too soon');
        assert.deepEqual(events.log.map(({ event }) => event), ['connect', 'message']);
        session.end();
      } else {
        assert.equal(answerFrame[0], 0x83, 'a NEGATIVE SESSION RESPONSE');
        await peer.rest();
        await settle();
        for (const event of ['connect', 'message', 'error']) assert.equal(events.of(event).length, 0, `no '${event}'`);
      }
    }
  );
}

// ---- direct mode (COMPAT difference 3) --------------------------------------

bothTransports(
  "COMPAT difference 3: direct attach is established at once and 'connect' is emitted asynchronously",
  async (t, { local, remote, peer }) => {
    const session = new NetbiosSession({ direct: true });
    session.on('error', (error) => assert.fail(error));
    let connected = 0;
    session.attach(local);
    // A listener added right after attach() must still see 'connect'.
    session.on('connect', () => {
      connected += 1;
    });
    assert.equal(connected, 0);
    await nextEvent(session, 'connect');
    assert.equal(connected, 1);

    // No handshake: messages flow both ways at once.
    const message = nextEvent(session, 'message');
    remote.write(messageFrame(Buffer.from('from peer')));
    assert.deepEqual((await message)[0], Buffer.from('from peer'));
    assert.equal(session.write(Buffer.from('from session')), true);
    assert.deepEqual(await peer.read(16), messageFrame(Buffer.from('from session')));
    session.end();
    assert.equal((await peer.rest()).length, 0);
  }
);

bothTransports('direct: destroy() right after attach() calls the callback once with the reason, then close', async (t, { local }) => {
  // Established at once, but 'connect' is still a tick away: the callback
  // must learn that the session ended first, not be dropped.
  const session = new NetbiosSession({ direct: true });
  session.on('error', (error) => assert.fail(error));
  const calls = [];
  session.attach(local, (...args) => calls.push(args));
  let connected = false;
  session.on('connect', () => {
    connected = true;
  });
  const closed = nextEvent(session, 'close');
  session.destroy();
  await closed;
  assert.equal(connected, false);
  assert.equal(calls.length, 1);
  assert.equal(calls[0][0].code, 'ERR_NETBIOS_NOT_CONNECTED');
  assert.match(calls[0][0].message, /destroyed before it was established/);
});

test('COMPAT direct: attach() sends nothing of its own before the first message (tcp)', async (t) => {
  const transport = await TRANSPORTS.tcp();
  t.after(() => transport.close());
  const session = new NetbiosSession({ direct: true });
  session.on('error', (error) => assert.fail(error));
  session.attach(transport.local);
  await nextEvent(session, 'connect');
  session.write(Buffer.alloc(0));
  // The very first bytes the peer sees are the empty message frame.
  assert.deepEqual(await transport.peer.read(4), Buffer.from([0, 0, 0, 0]));
  session.end();
  assert.equal((await transport.peer.rest()).length, 0);
});

test('attach: a stream whose chunks are over a SharedArrayBuffer gets its messages whole, in memory of their own (memory)', async () => {
  const [local, remote] = duplexPair();
  const session = new NetbiosSession({ direct: true });
  session.on('error', (error) => assert.fail(error));
  session.attach(local);
  await nextEvent(session, 'connect');
  // Two direct-mode frames in one shared chunk, the second split across two.
  const frames = Buffer.concat([Buffer.from([0, 0, 0, 3]), Buffer.from('abc'), Buffer.from([0, 0, 0, 4]), Buffer.from('defg')]);
  const shared = Buffer.from(new SharedArrayBuffer(frames.length));
  frames.copy(shared);
  const received = [];
  session.on('message', (message) => received.push(message));
  local.push(shared.subarray(0, 9));
  local.push(shared.subarray(9));
  await settle();
  assert.deepEqual(received.map(String), ['abc', 'defg']);
  // The core read a private copy; what 'message' hands out is not a view of
  // memory another thread could be writing.
  for (const message of received) assert.ok(!(message.buffer instanceof SharedArrayBuffer));
  // Writing into the shared memory afterwards changes no delivered message.
  shared.fill(0x7a);
  assert.deepEqual(received.map(String), ['abc', 'defg']);
  session.destroy();
  remote.destroy();
});
