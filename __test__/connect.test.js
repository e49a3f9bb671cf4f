'use strict';
// connect(): the calling side of the handshake against raw loopback peers,
// every accepted form of name, failures (negative responses, refused
// connections, bad names), the default port, direct mode and TCP_NODELAY.

const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('net');

const NBName = require('netbios-name');
const NetbiosSession = require('..');
const {
  REQUEST: DEFAULT_REQUEST,
  POSITIVE,
  nextEvent,
  rawServer,
  reader,
  duplexPair,
  encodeName,
  requestFrame,
  messageFrame,
  closed,
  delay,
  closedPort,
  asyncCallback,
} = require('./helpers');

/** Calls connect() and resolves with the arguments its callback got. */
function connectAndWait(session, ...args) {
  return new Promise((resolve) => {
    session.connect(...args, (...result) => resolve(result));
  });
}

/** A raw server (`options` as for rawServer()) plus cleanup registered on `t`. */
async function server(t, options) {
  const raw = await rawServer(options);
  t.after(() => raw.close());
  return raw;
}

/**
 * server(t, options), or null after t.skip() when it cannot listen and
 * `skipReason(error)` gives a reason (any other error is thrown).
 */
async function serverOrSkip(t, options, skipReason) {
  try {
    return await server(t, options);
  } catch (error) {
    const reason = skipReason(error);
    if (!reason) throw error;
    t.skip(reason);
    return null;
  }
}

/** Accepts the next connection on `raw` and gives it a reader; destroyed after the test. */
async function acceptPeer(t, raw) {
  const socket = await raw.accepted();
  t.after(() => socket.destroy());
  return { socket, peer: reader(socket) };
}

/** Calls connect(...args) and accepts the connection on `raw`: `done` (the callback's arguments), the peer's `socket` and `peer`. */
async function dial(t, raw, session, ...args) {
  const done = connectAndWait(session, ...args);
  return { done, ...(await acceptPeer(t, raw)) };
}

/**
 * The peer reads `expected` and answers POSITIVE; the callback gets no
 * arguments; end() then closes with nothing more on the wire.
 */
async function answerAndEnd(session, { done, socket, peer }, expected = DEFAULT_REQUEST) {
  assert.deepEqual(await peer.read(expected.length), expected);
  socket.write(POSITIVE);
  assert.deepEqual(await done, []);
  session.end();
  assert.equal((await peer.rest()).length, 0);
}

// ---- success --------------------------------------------------------------

test("COMPAT connect: success calls back after the positive response and emits 'connect'", async (t) => {
  const raw = await server(t);
  const session = new NetbiosSession();
  session.on('error', (error) => assert.fail(error));
  let calledBack = false;
  let connected = 0;
  session.on('connect', () => {
    connected += 1;
  });
  const done = new Promise((resolve) => {
    session.connect(raw.port, '127.0.0.1', 'DST', 'SRC', (...args) => {
      calledBack = true;
      resolve(args);
    });
  });
  const { socket, peer } = await acceptPeer(t, raw);
  assert.deepEqual(await peer.read(DEFAULT_REQUEST.length), DEFAULT_REQUEST);
  // Not established until the response arrives.
  await delay(30);
  assert.equal(calledBack, false, 'no callback before the positive response');
  assert.equal(connected, 0, "no 'connect' before the positive response");
  socket.write(POSITIVE);
  const args = await done;
  assert.equal(args[0] == null, true, 'callback gets no error');
  if (connected === 0) await nextEvent(session, 'connect');
  assert.equal(connected, 1);

  // Established: messages flow both ways.
  const message = nextEvent(session, 'message');
  socket.write(messageFrame(Buffer.from('hi')));
  assert.deepEqual((await message)[0], Buffer.from('hi'));
  session.write(Buffer.from('yo'));
  assert.deepEqual(await peer.read(6), messageFrame(Buffer.from('yo')));
  session.end();
  assert.equal((await peer.rest()).length, 0);
});

test("COMPAT connect: a message in the same chunk as the positive response arrives after 'connect' and the callback", async (t) => {
  const raw = await server(t);
  const session = new NetbiosSession();
  session.on('error', (error) => assert.fail(error));
  const order = [];
  session.on('connect', () => order.push('connect'));
  session.on('message', (message) => order.push(`message:${message}`));
  const done = new Promise((resolve) => {
    session.connect(raw.port, '127.0.0.1', 'DST', 'SRC', (error) => {
      order.push(error ? `error:${error.message}` : 'callback');
      resolve();
    });
  });
  const { socket, peer } = await acceptPeer(t, raw);
  await peer.read(DEFAULT_REQUEST.length);
  socket.write(Buffer.concat([POSITIVE, messageFrame(Buffer.from('first'))]));
  await done;
  if (order.length < 3) await nextEvent(session, 'message');
  assert.deepEqual(order, ['connect', 'callback', 'message:first']);
  session.end();
});

test('COMPAT difference 1: the 3rd connect() argument is the called name and is written first on the wire', async (t) => {
  const raw = await server(t);
  const session = new NetbiosSession();
  session.on('error', (error) => assert.fail(error));
  const { done, socket, peer } = await dial(t, raw, session, raw.port, '127.0.0.1', 'CALLED', 'CALLING');
  const header = await peer.read(4);
  assert.deepEqual(header, Buffer.from([0x81, 0x00, 0x00, 68]));
  const called = await peer.read(34);
  const calling = await peer.read(34);
  assert.deepEqual(called, encodeName('CALLED', 0x20), 'called name (3rd argument) first');
  assert.deepEqual(calling, encodeName('CALLING', 0x00), 'calling name (4th argument) second');
  socket.write(POSITIVE);
  assert.deepEqual(await done, []);
  session.end();
});

// ---- forms of names ---------------------------------------------------------

const NAME_FORMS = [
  {
    label: 'netbios-name@0.2.0 instances',
    callTo: () => new NBName({ name: 'DST', suffix: 0x20 }),
    callFrom: () => new NBName({ fqdn: 'HOST.scope' }),
    expected: requestFrame(encodeName('DST', 0x20), encodeName('HOST', 0x00, 'scope')),
  },
  {
    label: 'netbios-name@0.2.0 instances with scopes and explicit suffixes',
    callTo: () => new NBName({ fqdn: 'FileSrv.corp.example', suffix: 0x20 }),
    callFrom: () => new NBName({ name: 'Me', scopeId: 'corp.example', suffix: 0x03 }),
    expected: requestFrame(encodeName('FileSrv', 0x20, 'corp.example'), encodeName('Me', 0x03, 'corp.example')),
  },
  {
    label: 'plain {name, suffix} objects',
    callTo: () => ({ name: 'DST', suffix: 0x20 }),
    callFrom: () => ({ name: 'SRC', suffix: 0x00 }),
    expected: DEFAULT_REQUEST,
  },
  {
    label: 'plain objects without suffixes (0x20 for callTo, 0x00 for callFrom)',
    callTo: () => ({ name: 'DST' }),
    callFrom: () => ({ name: 'SRC' }),
    expected: DEFAULT_REQUEST,
  },
  {
    label: "the package's own NetbiosSession.NetbiosName",
    callTo: () => new NetbiosSession.NetbiosName({ name: 'DST', suffix: 0x20 }),
    callFrom: () => new NetbiosSession.NetbiosName({ fqdn: 'HOST.scope' }),
    expected: requestFrame(encodeName('DST', 0x20), encodeName('HOST', 0x00, 'scope')),
  },
  {
    label: 'plain strings (suffix 0x20 for callTo, 0x00 for callFrom by default)',
    callTo: () => 'DST',
    callFrom: () => 'SRC',
    expected: DEFAULT_REQUEST,
  },
  {
    label: 'strings keep case and accept NAME<xx>.scope notation',
    callTo: () => 'FileSrv<1b>.corp',
    callFrom: () => 'wkstn.corp',
    expected: requestFrame(encodeName('FileSrv', 0x1b, 'corp'), encodeName('wkstn', 0x00, 'corp')),
  },
];

for (const form of NAME_FORMS) {
  test(`COMPAT module shape: connect() takes callTo/callFrom as ${form.label}`, async (t) => {
    const raw = await server(t);
    const session = new NetbiosSession();
    session.on('error', (error) => assert.fail(error));
    const connection = await dial(t, raw, session, raw.port, '127.0.0.1', form.callTo(), form.callFrom());
    await answerAndEnd(session, connection, form.expected);
  });
}

// ---- negative responses -----------------------------------------------------

test('COMPAT connect: a negative response calls back with "Connection failed with response code [Called name not present]" and closes the socket', async (t) => {
  const raw = await server(t);
  const session = new NetbiosSession();
  let errors = 0;
  session.on('error', () => {
    errors += 1;
  });
  let connected = false;
  session.on('connect', () => {
    connected = true;
  });
  const { done, socket, peer } = await dial(t, raw, session, raw.port, '127.0.0.1', 'DST', 'SRC');
  await peer.read(DEFAULT_REQUEST.length);
  socket.write(Buffer.from([0x83, 0x00, 0x00, 0x01, 0x82]));
  const [error] = await done;
  assert.ok(error instanceof Error);
  assert.equal(error.message, 'Connection failed with response code [Called name not present]');
  assert.equal(error.code, 'ERR_NETBIOS_REJECTED');
  assert.equal(error.errorCode, 0x82);
  assert.equal(error.reason, 'Called name not present');
  // The session closed its socket: the peer sees the connection go away.
  await closed(socket);
  assert.equal(connected, false);
  assert.equal(errors, 0, "with a callback the error does not also go to 'error'");
  // The session is no longer usable.
  const written = await new Promise((resolve) => session.write(Buffer.from('x'), resolve));
  assert.equal(written.code, 'ERR_NETBIOS_NOT_CONNECTED');
});

test('COMPAT connect: a negative response with an unknown code calls back with "[unknown error]"', async (t) => {
  const raw = await server(t);
  const session = new NetbiosSession();
  session.on('error', () => {});
  const { done, socket, peer } = await dial(t, raw, session, raw.port, '127.0.0.1', 'DST', 'SRC');
  await peer.read(DEFAULT_REQUEST.length);
  socket.write(Buffer.from([0x83, 0x00, 0x00, 0x01, 0x99]));
  const [error] = await done;
  assert.ok(error instanceof Error);
  assert.equal(error.message, 'Connection failed with response code [unknown error]');
  assert.equal(error.code, 'ERR_NETBIOS_REJECTED');
  assert.equal(error.errorCode, 0x99);
  await closed(socket);
});

test("COMPAT connect: without a callback a negative response goes to 'error'", async (t) => {
  const raw = await server(t);
  const session = new NetbiosSession();
  const failed = nextEvent(session, 'error');
  session.connect(raw.port, '127.0.0.1', 'DST', 'SRC');
  const { socket, peer } = await acceptPeer(t, raw);
  await peer.read(DEFAULT_REQUEST.length);
  socket.write(Buffer.from([0x83, 0x00, 0x00, 0x01, 0x80]));
  const [error] = await failed;
  assert.equal(error.message, 'Connection failed with response code [Not listening on called name]');
  assert.equal(error.code, 'ERR_NETBIOS_REJECTED');
  assert.equal(error.errorCode, 0x80);
  await closed(socket);
});

// ---- refused connections (COMPAT difference 4) ------------------------------

test("COMPAT difference 4: connection refused calls back with err.code 'ECONNREFUSED' and does not crash", async () => {
  const port = await closedPort();
  const session = new NetbiosSession();
  let errors = 0;
  session.on('error', () => {
    errors += 1;
  });
  const done = asyncCallback((callback) => session.connect(port, '127.0.0.1', 'DST', 'SRC', callback));
  const [error] = await done;
  assert.ok(error instanceof Error);
  assert.equal(error.code, 'ECONNREFUSED');
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(errors, 0, "with a callback the error does not also go to 'error'");
});

test("COMPAT difference 4: connection refused without a callback is emitted as 'error'", async () => {
  const port = await closedPort();
  const session = new NetbiosSession();
  const failed = nextEvent(session, 'error');
  session.connect(port, '127.0.0.1', 'DST', 'SRC');
  const [error] = await failed;
  assert.ok(error instanceof Error);
  assert.equal(error.code, 'ECONNREFUSED');
});

test("COMPAT difference 4: direct-mode connection refused calls back with err.code 'ECONNREFUSED'", async () => {
  const port = await closedPort();
  const session = new NetbiosSession({ direct: true });
  session.on('error', () => {});
  const [error] = await connectAndWait(session, port, '127.0.0.1');
  assert.equal(error.code, 'ECONNREFUSED');
});

// ---- already active -----------------------------------------------------------

test("COMPAT methods: a second connect() while active calls back asynchronously with 'Cannot connect Session already active.'", async (t) => {
  const raw = await server(t);
  const session = new NetbiosSession();
  session.on('error', (error) => assert.fail(error));
  const first = connectAndWait(session, raw.port, '127.0.0.1', 'DST', 'SRC');

  // While the first connect is under way.
  const second = asyncCallback(
    (callback) => session.connect(raw.port, '127.0.0.1', 'OTHER', 'SRC', callback),
    'the callback must not run before connect() returns'
  );
  const [error] = await second;
  assert.ok(error instanceof Error);
  assert.equal(error.message, 'Cannot connect Session already active.');
  assert.equal(error.code, 'ERR_NETBIOS_ALREADY_ACTIVE');

  // The first connect goes ahead (only one connection, with the first names).
  const { socket, peer } = await acceptPeer(t, raw);
  assert.deepEqual(await peer.read(DEFAULT_REQUEST.length), DEFAULT_REQUEST);
  socket.write(POSITIVE);
  assert.deepEqual(await first, []);

  // Once established it is still active.
  const third = asyncCallback((callback) => session.connect(raw.port, '127.0.0.1', 'DST', 'SRC', callback));
  const [again] = await third;
  assert.equal(again.message, 'Cannot connect Session already active.');
  assert.equal(again.code, 'ERR_NETBIOS_ALREADY_ACTIVE');
  session.end();
  assert.equal((await peer.rest()).length, 0);
});

test("COMPAT methods: a second connect() without a callback emits 'error' 'Cannot connect Session already active.'", async (t) => {
  const raw = await server(t);
  const session = new NetbiosSession();
  const done = connectAndWait(session, raw.port, '127.0.0.1', 'DST', 'SRC');
  const failed = nextEvent(session, 'error');
  session.connect(raw.port, '127.0.0.1', 'DST', 'SRC');
  const [error] = await failed;
  assert.equal(error.message, 'Cannot connect Session already active.');
  const { socket, peer } = await acceptPeer(t, raw);
  await peer.read(DEFAULT_REQUEST.length);
  socket.write(POSITIVE);
  assert.deepEqual(await done, []);
  session.end();
});

test("COMPAT methods: connect() on an attached session calls back asynchronously with 'Cannot connect Session already active.'", async (t) => {
  const raw = await server(t);
  const [local, remote] = duplexPair();
  t.after(() => remote.destroy());
  const session = new NetbiosSession();
  session.on('error', () => {});
  session.attach(local, () => {});
  const result = asyncCallback(
    (callback) => session.connect(raw.port, '127.0.0.1', 'DST', 'SRC', callback),
    'the callback must not run before connect() returns'
  );
  const [error] = await result;
  assert.equal(error.message, 'Cannot connect Session already active.');
  assert.equal(error.code, 'ERR_NETBIOS_ALREADY_ACTIVE');
  session.end();
});

test('COMPAT difference 4: connect() with an out-of-range port number calls back with an Error, nothing thrown', async () => {
  const session = new NetbiosSession();
  let errors = 0;
  session.on('error', () => {
    errors += 1;
  });
  const done = asyncCallback((callback) => session.connect(70000, '127.0.0.1', 'DST', 'SRC', callback));
  const [error] = await done;
  assert.ok(error instanceof Error);
  assert.equal(errors, 0);
});

// ---- hosts --------------------------------------------------------------------

test("COMPAT connect: host may be the IPv6 loopback '::1'", async (t) => {
  const raw = await serverOrSkip(t, { host: '::1' }, () => 'IPv6 loopback ::1 is not available here');
  if (!raw) return;
  const session = new NetbiosSession();
  session.on('error', (error) => assert.fail(error));
  const connection = await dial(t, raw, session, raw.port, '::1', 'DST', 'SRC');
  assert.equal(connection.socket.remoteAddress, '::1');
  await answerAndEnd(session, connection);
});

test("COMPAT connect: host may be 'localhost'", async (t) => {
  // 'localhost' may resolve to ::1 or 127.0.0.1; listen on whichever it gives.
  const { address, family } = await require('dns').promises.lookup('localhost');
  const raw = await server(t, { host: address });
  assert.ok(family === 4 || family === 6);
  const session = new NetbiosSession();
  session.on('error', (error) => assert.fail(error));
  await answerAndEnd(session, await dial(t, raw, session, raw.port, 'localhost', 'DST', 'SRC'));
});

// ---- invalid names (COMPAT difference 4: reported, never thrown) -------------

// [label, () => [callTo, callFrom], the start of the error message]
const BAD_NAMES = [
  ['a 16-character callTo string', () => ['ABCDEFGHIJKLMNOP', 'SRC'], /^callTo: .*16 bytes long; expected at most 15/],
  ['a 16-character callFrom string', () => ['DST', 'ABCDEFGHIJKLMNOP'], /^callFrom: .*16 bytes long; expected at most 15/],
  ['a callTo string with an empty scope label', () => ['DST.corp..example', 'SRC'], /^callTo: .*empty label/],
  ['a callFrom string that is only a scope', () => ['DST', '.scope'], /^callFrom: .*empty/],
  ['a 16-character {name} object', () => [{ name: 'ABCDEFGHIJKLMNOP', suffix: 0x20 }, 'SRC'], /^callTo: /],
  ['a netbios-name object whose .error is set', () => [new NBName({ name: 'ABCDEFGHIJKLMNOP', suffix: 0x20 }), 'SRC'], /^callTo: /],
  ['a netbios-name object made from an empty fqdn', () => ['DST', new NBName({ fqdn: '.scope' })], /^callFrom: /],
];

for (const [label, names, message] of BAD_NAMES) {
  test(`COMPAT difference 4: connect() with ${label} calls back with an Error asynchronously, nothing thrown`, async (t) => {
    const raw = await server(t);
    let connections = 0;
    raw.server.on('connection', () => {
      connections += 1;
    });
    const [callTo, callFrom] = names();
    if (label.includes('.error')) assert.ok(callTo.error instanceof Error, 'netbios-name reports the bad name in .error');
    const session = new NetbiosSession();
    let errors = 0;
    session.on('error', () => {
      errors += 1;
    });
    const done = asyncCallback((callback) => session.connect(raw.port, '127.0.0.1', callTo, callFrom, callback));
    const [error] = await done;
    assert.ok(error instanceof Error);
    assert.match(error.code, /^ERR_INVALID_ARG/);
    assert.match(error.message, message);
    assert.equal(errors, 0);
    // Lets a wrongly opened connection arrive before counting.
    await delay(30);
    assert.equal(connections, 0, 'no TCP connection is opened for an invalid name');
  });
}

test("COMPAT difference 4: connect() with an invalid name and no callback emits 'error', nothing thrown", async () => {
  const session = new NetbiosSession();
  const failed = nextEvent(session, 'error');
  session.connect(139, '127.0.0.1', 'ABCDEFGHIJKLMNOP', 'SRC');
  const [error] = await failed;
  assert.ok(error instanceof Error);
  assert.match(error.code, /^ERR_INVALID_ARG/);
});

// ---- default port ---------------------------------------------------------------

for (const [label, port] of [
  ['undefined', undefined],
  ['null', null],
  ["a string '445'", '445'],
]) {
  test(`COMPAT connect: a non-number port (${label}) means 139`, async (t) => {
    const raw = await serverOrSkip(t, { port: 139 }, (problem) =>
      problem.code === 'EACCES' || problem.code === 'EADDRINUSE' ? `cannot listen on 127.0.0.1:139 (${problem.code})` : null
    );
    if (!raw) return;
    const session = new NetbiosSession();
    session.on('error', (error) => assert.fail(error));
    const connection = await dial(t, raw, session, port, '127.0.0.1', 'DST', 'SRC');
    assert.equal(connection.socket.localPort, 139);
    await answerAndEnd(session, connection);
  });
}

// ---- direct mode ------------------------------------------------------------------

test("COMPAT direct: connect(port, host, cb) calls back once TCP is up, emits 'connect' and sends no request", async (t) => {
  const raw = await server(t);
  const session = new NetbiosSession({ direct: true });
  session.on('error', (error) => assert.fail(error));
  let connected = 0;
  session.on('connect', () => {
    connected += 1;
  });
  const { done, socket, peer } = await dial(t, raw, session, raw.port, '127.0.0.1');
  // The peer sends nothing; the session is established anyway.
  assert.deepEqual(await done, []);
  if (connected === 0) await nextEvent(session, 'connect');
  assert.equal(connected, 1);
  // The first bytes on the wire are the first message, not a request.
  session.write(Buffer.from('abc'));
  assert.deepEqual(await peer.read(7), Buffer.from([0x00, 0x00, 0x00, 0x03, 0x61, 0x62, 0x63]));
  const message = nextEvent(session, 'message');
  socket.write(messageFrame(Buffer.from('back')));
  assert.deepEqual((await message)[0], Buffer.from('back'));
  session.end();
  assert.equal((await peer.rest()).length, 0);
});

test("COMPAT direct: connect(port, host) without a callback emits 'connect'", async (t) => {
  const raw = await server(t);
  const session = new NetbiosSession({ direct: true });
  session.on('error', (error) => assert.fail(error));
  const connected = nextEvent(session, 'connect');
  session.connect(raw.port, '127.0.0.1');
  await acceptPeer(t, raw);
  await connected;
  session.end();
});

// ---- TCP_NODELAY ------------------------------------------------------------------

// The session may ask for TCP_NODELAY either through net.connect's `noDelay`
// option (set as the connection completes) or by calling setNoDelay().
function noDelayRequests(connectSpy, setNoDelaySpy, peerSocket) {
  const viaOption = connectSpy.mock.calls.map((call) => call.arguments[0]).filter((options) => typeof options === 'object');
  const viaCall = setNoDelaySpy.mock.calls.filter((call) => call.this !== peerSocket);
  return {
    on: viaOption.some((options) => options.noDelay === true) || viaCall.some((call) => call.arguments.length === 0 || call.arguments[0] === true),
    off: viaCall.some((call) => call.arguments[0] === false),
    dials: viaOption.length,
  };
}

const NO_DELAY_CASES = [
  {
    title: 'connect: TCP_NODELAY is on by default',
    options: undefined,
    check(requests) {
      assert.equal(requests.dials, 1, 'one net.connect');
      assert.ok(requests.on, 'TCP_NODELAY was asked for on the session socket');
      assert.ok(!requests.off);
    },
  },
  {
    title: 'connect: TCP_NODELAY stays off with {noDelay: false}',
    options: { noDelay: false },
    check(requests) {
      assert.equal(requests.dials, 1, 'one net.connect');
      assert.ok(!requests.on, 'TCP_NODELAY must not be asked for');
    },
  },
];

for (const { title, options, check } of NO_DELAY_CASES) {
  test(title, async (t) => {
    const raw = await server(t);
    const connectSpy = t.mock.method(net, 'connect');
    const setNoDelaySpy = t.mock.method(net.Socket.prototype, 'setNoDelay');
    t.after(() => {
      connectSpy.mock.restore();
      setNoDelaySpy.mock.restore();
    });
    const session = new NetbiosSession(options);
    session.on('error', (error) => assert.fail(error));
    const { done, socket, peer } = await dial(t, raw, session, raw.port, '127.0.0.1', 'DST', 'SRC');
    await peer.read(DEFAULT_REQUEST.length);
    socket.write(POSITIVE);
    assert.deepEqual(await done, []);
    check(noDelayRequests(connectSpy, setNoDelaySpy, socket));
    connectSpy.mock.restore();
    setNoDelaySpy.mock.restore();
    session.end();
  });
}
