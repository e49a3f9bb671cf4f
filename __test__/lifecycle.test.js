'use strict';
// Beyond 0.1.6: retargeting both ways, called-name fallback, keep-alives,
// deadlines, destroy() and 'close', tracing. Raw loopback peers send
// hand-built bytes where our own called node cannot produce the case.

const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('net');
const path = require('path');
const { spawn } = require('child_process');

const NetbiosSession = require('..');
const { NetbiosName } = NetbiosSession;
const { listen, rawServer, reader, nextEvent, closed, encodeName, requestFrame, messageFrame, duplexPair, closedPort } = require('./helpers');

const REQUEST_LENGTH = 4 + 68;
const POSITIVE = Buffer.from([0x82, 0, 0, 0]);
const KEEP_ALIVE = Buffer.from([0x85, 0, 0, 0]);

function retargetFrame(port, address = [127, 0, 0, 1]) {
  return Buffer.from([0x84, 0, 0, 6, ...address, port >> 8, port & 0xff]);
}

/** Records every event a session emits, in order; `seen.closed` resolves on 'close'. */
function record(session) {
  const seen = [];
  for (const event of ['connect', 'message', 'retarget', 'fallback', 'error', 'end', 'close']) {
    session.on(event, (arg) => seen.push(event === 'message' ? `message:${arg.length}` : event));
  }
  Object.defineProperty(seen, 'closed', { value: new Promise((resolve) => session.once('close', resolve)) });
  return seen;
}

/** A direct session connected to `raw`, with the raw side's socket. */
async function directSession(raw, options) {
  const session = new NetbiosSession({ direct: true, ...options });
  const seen = record(session);
  await new Promise((resolve, reject) => session.connect(raw.port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
  const peer = await raw.accepted();
  peer.on('error', () => {});
  return { session, seen, peer };
}

function connect(session, port, callTo = 'FILESERVER', callFrom = 'CLIENT') {
  return new Promise((resolve) => session.connect(port, '127.0.0.1', callTo, callFrom, (error) => resolve(error || null)));
}

/** A raw server that answers each connection's request with `answer(requestBytes, index)`. */
async function scriptedServer(answer) {
  let index = 0;
  const requests = [];
  const { server, port } = await listen(async (socket) => {
    socket.on('error', () => {});
    const i = index++;
    const request = await reader(socket).read(REQUEST_LENGTH).catch(() => null);
    if (request === null) return;
    requests.push(request);
    const reply = answer(request, i, socket);
    if (reply) socket.write(reply);
  });
  return { server, port, requests };
}

test('retarget: a 3-hop chain is followed to a session, one "retarget" event per hop', async (t) => {
  // Server D accepts; C retargets to D, B to C, A to B.
  const d = await scriptedServer(() => POSITIVE);
  const c = await scriptedServer(() => retargetFrame(d.port));
  const b = await scriptedServer(() => retargetFrame(c.port));
  const a = await scriptedServer(() => retargetFrame(b.port));
  t.after(() => [a, b, c, d].forEach((s) => s.server.close()));

  const session = new NetbiosSession();
  const hops = [];
  session.on('retarget', (target) => hops.push(target));
  assert.equal(await connect(session, a.port), null);
  assert.deepEqual(hops, [
    { host: '127.0.0.1', port: b.port },
    { host: '127.0.0.1', port: c.port },
    { host: '127.0.0.1', port: d.port },
  ]);
  // Every hop got the same request, called name first.
  const expected = requestFrame(encodeName('FILESERVER', 0x20), encodeName('CLIENT', 0x00));
  for (const server of [a, b, c, d]) assert.deepEqual(server.requests, [expected]);
  const echoed = nextEvent(session, 'close');
  session.end();
  await echoed;
});

test('retarget: a loop stops at maxRetargets with ERR_NETBIOS_RETARGET_LOOP', async (t) => {
  let port = 0;
  const loop = await scriptedServer(() => retargetFrame(port));
  port = loop.port;
  t.after(() => loop.server.close());

  for (const [options, hops] of [
    [{}, 4],
    [{ maxRetargets: 1 }, 1],
    [{ maxRetargets: 0 }, 0],
  ]) {
    const before = loop.requests.length;
    const session = new NetbiosSession(options);
    const seen = record(session);
    const error = await connect(session, loop.port);
    assert.equal(error.code, 'ERR_NETBIOS_RETARGET_LOOP');
    assert.match(error.message, new RegExp(`after following ${hops} retargets \\(maxRetargets\\)`));
    assert.equal(error.host, '127.0.0.1');
    assert.equal(error.port, loop.port);
    assert.equal(loop.requests.length - before, hops + 1, 'one request per connection');
    await nextEvent(session, 'close');
    assert.deepEqual(seen, [...Array(hops).fill('retarget'), 'close']);
  }
});

test('request.retarget(host, port) sends 84 00 00 06 + address + port byte-exact, then closes', async (t) => {
  let answered;
  const { server, port } = await listen((socket) => {
    const session = new NetbiosSession();
    session.attach(socket, (error, request) => {
      assert.throws(() => request.retarget('fileserver', 139), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
      assert.throws(() => request.retarget('::1', 139), { name: 'TypeError' });
      assert.throws(() => request.retarget('10.0.0.5', 0), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
      assert.throws(() => request.retarget('10.0.0.5', 65536), { name: 'RangeError' });
      assert.equal(typeof request.accept, 'function', 'a refused retarget leaves the request unanswered');
      request.retarget('10.0.0.5', 139);
      answered = { accept: request.accept, reject: request.reject, retarget: request.retarget };
    });
  });
  t.after(() => server.close());
  const client = net.connect(port, '127.0.0.1');
  const clientReader = reader(client);
  client.write(requestFrame(encodeName('DST', 0x20), encodeName('SRC', 0)));
  assert.deepEqual([...(await clientReader.read(10))], [0x84, 0x00, 0x00, 0x06, 0x0a, 0x00, 0x00, 0x05, 0x00, 0x8b]);
  assert.equal((await clientReader.rest()).length, 0, 'nothing after the retarget; the stream ends');
  assert.deepEqual(answered, { accept: null, reject: null, retarget: null });
  client.destroy();
});

test('retarget: our called node redirects our caller to another called node', async (t) => {
  const { server: final, port: finalPort } = await listen((socket) => {
    new NetbiosSession({ autoAccept: true }).attach(socket);
  });
  const { server: front, port: frontPort } = await listen((socket) => {
    new NetbiosSession().attach(socket, (error, request) => request.retarget('127.0.0.1', finalPort));
  });
  t.after(() => {
    final.close();
    front.close();
  });
  const session = new NetbiosSession();
  const hops = [];
  session.on('retarget', (target) => hops.push(target.port));
  assert.equal(await connect(session, frontPort), null);
  assert.deepEqual(hops, [finalPort]);
  session.end();
  await nextEvent(session, 'close');
});

test('calledNameFallback: after 0x82 the next name is tried on a fresh connection, with a "fallback" event', async (t) => {
  const server = await scriptedServer((request) => {
    const called = request.subarray(4, 38);
    return called.equals(encodeName('*SMBSERVER', 0x20)) ? POSITIVE : Buffer.from([0x83, 0, 0, 1, 0x82]);
  });
  t.after(() => server.server.close());
  const session = new NetbiosSession({ calledNameFallback: ['*SMBSERVER'] });
  const fallbacks = [];
  session.on('fallback', (name) => fallbacks.push(name));
  assert.equal(await connect(session, server.port, 'FILESERVER'), null);
  assert.equal(fallbacks.length, 1);
  assert.ok(fallbacks[0] instanceof NetbiosName);
  assert.equal(String(fallbacks[0]), '*SMBSERVER<20>');
  assert.deepEqual(
    server.requests.map((r) => r.subarray(4, 38)),
    [encodeName('FILESERVER', 0x20), encodeName('*SMBSERVER', 0x20)]
  );
  session.end();
  await nextEvent(session, 'close');
});

test('calledNameFallback: other codes, or no names left, fail with ERR_NETBIOS_REJECTED', async (t) => {
  const resources = await scriptedServer(() => Buffer.from([0x83, 0, 0, 1, 0x83]));
  const absent = await scriptedServer(() => Buffer.from([0x83, 0, 0, 1, 0x80]));
  t.after(() => {
    resources.server.close();
    absent.server.close();
  });
  const first = new NetbiosSession({ calledNameFallback: ['*SMBSERVER'] });
  const error = await connect(first, resources.port);
  assert.equal(error.code, 'ERR_NETBIOS_REJECTED');
  assert.equal(error.errorCode, 0x83);
  assert.equal(resources.requests.length, 1, '0x83 is not a reason to fall back');

  const second = new NetbiosSession({ calledNameFallback: ['*SMBSERVER', 'ALIAS'] });
  const tried = [];
  second.on('fallback', (name) => tried.push(name.name));
  const last = await connect(second, absent.port);
  assert.equal(last.code, 'ERR_NETBIOS_REJECTED');
  assert.equal(last.message, 'Connection failed with response code [Not listening on called name]');
  assert.deepEqual(tried, ['*SMBSERVER', 'ALIAS']);
  assert.equal(absent.requests.length, 3);
});

test('calledNameFallback entries are validated when the session is made', () => {
  assert.throws(() => new NetbiosSession({ calledNameFallback: '*SMBSERVER' }), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => new NetbiosSession({ calledNameFallback: ['X'.repeat(16)] }), {
    code: 'ERR_INVALID_ARG_VALUE',
    message: /calledNameFallback\[0\]/,
  });
});

test('keepAlive: an idle established session sends 85 00 00 00 every interval; received ones are not messages', async (t) => {
  const raw = await rawServer();
  t.after(() => raw.close());
  const { session, seen, peer } = await directSession(raw, { keepAlive: 100 });
  const peerReader = reader(peer);
  const started = Date.now();
  for (let i = 0; i < 3; i++) assert.deepEqual(await peerReader.read(4, 2000), KEEP_ALIVE);
  // Three intervals of silence; the bound only catches a runaway sender.
  assert.ok(Date.now() - started >= 250, 'keep-alives are not sent faster than the interval');

  // While messages flow, no keep-alive is due; then they resume.
  peer.write(Buffer.concat([KEEP_ALIVE, messageFrame(Buffer.from('hi')), KEEP_ALIVE]));
  await nextEvent(session, 'message');
  session.write(Buffer.from('x'));
  assert.deepEqual(await peerReader.read(5), Buffer.from([0, 0, 0, 1, 0x78]));
  assert.deepEqual(await peerReader.read(4, 2000), KEEP_ALIVE);
  assert.deepEqual(seen, ['connect', 'message:2'], 'received keep-alives never surface');
  session.end();
  await nextEvent(session, 'close');
});

test('timeout: a caller against a server that never answers fails with ERR_NETBIOS_TIMEOUT, socket destroyed', async (t) => {
  const raw = await rawServer();
  t.after(() => raw.close());
  const session = new NetbiosSession({ timeout: 300 });
  const seen = record(session);
  const failed = connect(session, raw.port);
  const peer = await raw.accepted();
  peer.resume(); // reads the request and, later, the end of the stream
  const error = await failed;
  assert.equal(error.code, 'ERR_NETBIOS_TIMEOUT');
  assert.match(error.message, /within 300 ms \(timeout\)/);
  await closed(peer);
  await seen.closed;
  assert.deepEqual(seen, ['close']);
});

test('timeout: one deadline covers every retarget hop', async (t) => {
  const silent = await rawServer();
  const hop = await scriptedServer(() => retargetFrame(silent.port));
  t.after(() => {
    silent.close();
    hop.server.close();
  });
  const session = new NetbiosSession({ timeout: 400 });
  const error = await connect(session, hop.port);
  assert.equal(error.code, 'ERR_NETBIOS_TIMEOUT');
});

test('requestTimeout: a client sending its request one byte per second is cut off at the deadline', async (t) => {
  let session;
  const failed = new Promise((resolve) => {
    listen((socket) => {
      session = new NetbiosSession({ requestTimeout: 2500 });
      session.attach(socket, (error) => resolve(error));
    }).then(({ server, port }) => {
      t.after(() => server.close());
      const client = net.connect(port, '127.0.0.1');
      client.on('error', () => {});
      const request = requestFrame(encodeName('DST', 0x20), encodeName('SRC', 0));
      let i = 0;
      const trickle = setInterval(() => {
        if (i < request.length && !client.destroyed) client.write(request.subarray(i, ++i));
      }, 1000);
      client.on('close', () => clearInterval(trickle));
      t.after(() => {
        clearInterval(trickle);
        client.destroy();
      });
    });
  });
  const started = Date.now();
  const error = await failed;
  assert.equal(error.code, 'ERR_NETBIOS_TIMEOUT');
  assert.match(error.message, /2500 ms \(requestTimeout\)/);
  // Two or three bytes arrived; none of them moved the deadline.
  assert.ok(Date.now() - started < 3900, 'the deadline is not reset by each byte');
  await nextEvent(session, 'close');
});

test('idleTimeout: an established session with no frame for that long fails; frames keep it alive', async (t) => {
  const raw = await rawServer();
  t.after(() => raw.close());
  const { session, seen, peer } = await directSession(raw, { idleTimeout: 300 });
  // Keep-alives every 100 ms for 600 ms: twice the idle timeout, no failure.
  for (let i = 0; i < 6; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    peer.write(KEEP_ALIVE);
  }
  assert.deepEqual(seen, ['connect']);
  const [error] = await nextEvent(session, 'error', 3000);
  assert.equal(error.code, 'ERR_NETBIOS_TIMEOUT');
  assert.match(error.message, /300 ms \(idleTimeout\)/);
  await closed(peer);
  await seen.closed;
  assert.deepEqual(seen, ['connect', 'error', 'close']);
});

test('duration options are validated', () => {
  for (const name of ['timeout', 'requestTimeout', 'idleTimeout', 'keepAlive']) {
    assert.throws(() => new NetbiosSession({ [name]: -1 }), { code: 'ERR_OUT_OF_RANGE', message: new RegExp(name) });
    assert.throws(() => new NetbiosSession({ [name]: 1.5 }), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => new NetbiosSession({ [name]: 2 ** 31 }), { code: 'ERR_OUT_OF_RANGE' });
  }
  assert.throws(() => new NetbiosSession({ maxRetargets: -1 }), { code: 'ERR_OUT_OF_RANGE' });
});

test('options of the wrong type throw a TypeError (ERR_INVALID_ARG_TYPE) naming the option', () => {
  const wrong = {
    direct: 'yes',
    autoAccept: 1,
    paused: 'false',
    legacyLengthBit: {},
    noDelay: 0,
    timeout: '100',
    requestTimeout: true,
    idleTimeout: [],
    keepAlive: '0',
    maxRetargets: '4',
    maxMessageLength: '65535',
    calledNameFallback: '*SMBSERVER',
  };
  for (const [name, value] of Object.entries(wrong)) {
    assert.throws(() => new NetbiosSession({ [name]: value }), {
      name: 'TypeError',
      code: 'ERR_INVALID_ARG_TYPE',
      message: new RegExp(`"${name}" option must be`),
    }, name);
  }
  assert.throws(() => new NetbiosSession({ direct: 'yes' }), { message: 'The "direct" option must be true or false, got string "yes"' });
  // Missing, undefined and null mean the default; booleans are taken as they are.
  for (const value of [undefined, null]) {
    assert.equal(new NetbiosSession({ direct: value, noDelay: value, timeout: value }).MAX_MESSAGE_LENGTH, 131071);
  }
  assert.equal(new NetbiosSession({ direct: true, paused: false, autoAccept: true }).MAX_MESSAGE_LENGTH, 16777215);
});

test("'close' comes once and last: after end, after a protocol error, after destroy(err) and destroy()", async (t) => {
  const raw = await rawServer();
  t.after(() => raw.close());
  const open = () => directSession(raw);
  const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

  const ended = await open();
  ended.peer.write(messageFrame(Buffer.from('last')));
  await nextEvent(ended.session, 'message');
  ended.session.end();
  ended.session.end();
  await ended.seen.closed;
  ended.peer.write(messageFrame(Buffer.from('late')));
  await settle();
  assert.deepEqual(ended.seen, ['connect', 'message:4', 'end', 'close']);

  const broken = await open();
  broken.peer.write(Buffer.from([0x86, 0, 0, 0]));
  await broken.seen.closed;
  assert.deepEqual(broken.seen, ['connect', 'error', 'close']);

  const destroyedWithError = await open();
  destroyedWithError.session.destroy(new Error('shutting down'));
  destroyedWithError.session.destroy(new Error('twice'));
  await destroyedWithError.seen.closed;
  await closed(destroyedWithError.peer);
  assert.deepEqual(destroyedWithError.seen, ['connect', 'error', 'close']);

  const destroyed = await open();
  destroyed.session.destroy();
  assert.equal(destroyed.session.write(Buffer.from('x'), () => {}), false);
  await destroyed.seen.closed;
  await settle();
  assert.deepEqual(destroyed.seen, ['connect', 'close']);
});

test('destroy() during setup fails the pending callback, then close', async (t) => {
  const raw = await rawServer();
  t.after(() => raw.close());
  const session = new NetbiosSession();
  const seen = record(session);
  const pending = connect(session, raw.port);
  await raw.accepted();
  session.destroy();
  const error = await pending;
  assert.equal(error.code, 'ERR_NETBIOS_NOT_CONNECTED');
  await seen.closed;
  assert.deepEqual(seen, ['close']);
});

const child = (script, env = {}) =>
  new Promise((resolve) => {
    const proc = spawn(process.execPath, ['-e', script], {
      cwd: path.join(__dirname, '..'),
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => (stdout += d));
    proc.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10000);
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });

const CHILD_CALLER = `
  const NetbiosSession = require('.');
  const port = Number(process.env.PORT);
  const session = new NetbiosSession({ keepAlive: 60000, idleTimeout: 60000 });
  session.connect(port, '127.0.0.1', 'ECHO', 'CHILD', (error) => {
    if (error) throw error;
    session.write(Buffer.from('ping'));
  });
  session.once('message', (message) => {
    console.log('got ' + message);
    session.end();
  });
`;

test('a child process that connects, exchanges a message and ends exits by itself promptly', async (t) => {
  const { server, port } = await listen((socket) => {
    const session = new NetbiosSession({ autoAccept: true, keepAlive: 60000 });
    session.attach(socket);
    session.on('message', (message) => session.write(message));
    session.on('error', () => {});
  });
  t.after(() => server.close());
  const started = Date.now();
  const result = await child(CHILD_CALLER, { PORT: String(port) });
  assert.equal(result.signal, null, `the child had to be killed: ${result.stderr}`);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout.trim(), 'got ping');
  assert.ok(Date.now() - started < 8000);
});

// The peer answers and sends a message in the same write; the caller's
// 'connect' listener throws (the process survives through uncaughtException).
const CHILD_THROWING_CONNECT = `
  const net = require('net');
  const NetbiosSession = require('.');
  const seen = [];
  process.on('uncaughtException', (error) => seen.push('uncaught ' + error.message));
  const server = net.createServer((socket) => {
    socket.once('data', () => socket.write(Buffer.from([0x82, 0, 0, 0, 0, 0, 0, 2, 0x68, 0x69])));
  });
  server.listen(0, '127.0.0.1', () => {
    const session = new NetbiosSession();
    session.on('connect', () => {
      seen.push('connect');
      throw new Error('listener bug');
    });
    session.on('message', (message) => {
      seen.push('message ' + message);
      session.destroy();
      server.close();
    });
    session.on('close', () => console.log(JSON.stringify(seen)));
    session.connect(server.address().port, '127.0.0.1', 'DST', 'SRC', (error) => seen.push('callback ' + (error ? error.code : 'ok')));
  });
`;

test("a throwing 'connect' listener still lets the connect() callback and the data that came with the answer through", async () => {
  const result = await child(CHILD_THROWING_CONNECT);
  assert.equal(result.signal, null, `the child had to be killed: ${result.stderr}`);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(JSON.parse(result.stdout), ['connect', 'uncaught listener bug', 'callback ok', 'message hi']);
});

test('NODE_DEBUG=netbios-session traces each frame sent and received', async (t) => {
  const { server, port } = await listen((socket) => {
    const session = new NetbiosSession({ autoAccept: true });
    session.attach(socket);
    session.on('message', (message) => session.write(message));
  });
  t.after(() => server.close());
  const result = await child(CHILD_CALLER, { PORT: String(port), NODE_DEBUG: 'netbios-session' });
  assert.equal(result.code, 0, result.stderr);
  const lines = result.stderr.split('\n').filter((line) => line.includes('NETBIOS-SESSION'));
  assert.deepEqual(
    lines.map((line) => line.replace(/^NETBIOS-SESSION \d+: /, '')),
    [
      'send SESSION REQUEST length=68 state=awaiting-response',
      'recv POSITIVE SESSION RESPONSE length=0 state=awaiting-response',
      'send SESSION MESSAGE length=4 state=established',
      'recv SESSION MESSAGE length=4 state=established',
    ]
  );
});

test('every way a session ends frees its native state at once (no finalizer is needed)', async () => {
  const { table } = require('../lib/native');
  const start = table.size();

  // Established over TCP, then ended by the peer; our called node answers.
  const { server, port } = await listen((socket) => {
    const called = new NetbiosSession({ autoAccept: true });
    called.on('error', () => {});
    called.attach(socket);
  });
  const caller = new NetbiosSession();
  caller.on('error', () => {});
  await new Promise((resolve, reject) => caller.connect(port, '127.0.0.1', 'DST', 'SRC', (e) => (e ? reject(e) : resolve())));
  assert.equal(table.size(), start + 2, 'a caller and a called session are open');
  const callerClosed = closed(caller);
  caller.end();
  await callerClosed;
  await new Promise((resolve) => server.close(resolve));

  // Refused by the peer (no listener), destroyed while connecting, rejected, and a protocol error.
  const refused = new NetbiosSession();
  const refusedClosed = closed(refused);
  refused.connect(await closedPort(), '127.0.0.1', 'DST', 'SRC', () => {});
  await refusedClosed;

  const destroyed = new NetbiosSession();
  const destroyedClosed = closed(destroyed);
  destroyed.connect(port, '127.0.0.1', 'DST', 'SRC', () => {});
  destroyed.destroy();
  await destroyedClosed;

  const [local, remote] = duplexPair();
  const rejecting = new NetbiosSession();
  rejecting.attach(local, (error, request) => request.reject());
  const answer = nextEvent(remote, 'data');
  remote.write(requestFrame(encodeName('DST', 0x20), encodeName('SRC', 0x00)));
  assert.equal((await answer)[0][0], 0x83, 'a NEGATIVE SESSION RESPONSE');

  const [local2, remote2] = duplexPair();
  const broken = new NetbiosSession({ direct: true });
  broken.on('error', () => {});
  // Not closed(): it rejects on the 'error' this case is meant to raise.
  const brokenClosed = new Promise((resolve) => broken.once('close', resolve));
  broken.attach(local2);
  remote2.write(Buffer.from([0x99, 0, 0, 0]));
  await brokenClosed;

  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(table.size(), start, 'every native session was released');
});
