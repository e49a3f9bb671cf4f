'use strict';
// A server written for 0.1.6, with no 'error' listener on its sessions,
// survives peers that break the protocol, time out or reset: on a session
// that attach() took over, such errors close that session, are kept as
// `session.errored`, and throw nothing. With a listener, and on sessions
// made by connect() or for the caller's own mistakes, Node's rules stand.

const test = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('child_process');
const path = require('path');

const {
  REQUEST,
  POSITIVE,
  messageFrame,
  fromHex,
  settle,
  reader,
  rawClient,
  runProcess,
  watchUncaught,
  calledWithRawClient,
  withTimeout,
} = require('./helpers');

const ROOT = path.join(__dirname, '..');

// The README's server, without its 'error' listener (as 0.1.6 users wrote
// it), on port 0 of 127.0.0.1: it prints the port, then serves forever.
const SERVER = `
const net = require('net');
const NetbiosSession = require(${JSON.stringify(ROOT)});

const server = net.createServer((socket) => {
  const session = new NetbiosSession();
  session.attach(socket, (error, request) => {
    if (error) return console.error(error.message);
    console.log(\`call to \${request.callTo} from \${request.callFrom}\`); // FILESERVER<20> from CLIENT<00>
    request.accept();
  });
  session.on('message', (message) => session.write(message)); // echo
}).listen(0, '127.0.0.1', () => console.log(\`port \${server.address().port}\`));
`;

/**
 * Resolves on `emitter`'s 'close'. Not events.once(): that listens for
 * 'error' while it waits, and a listener is what these tests go without
 * (a peer's socket may also close by a reset).
 */
function closeOf(emitter) {
  if (emitter.destroyed && emitter.closed) return Promise.resolve();
  return withTimeout(new Promise((resolve) => emitter.once('close', resolve)), "'close'");
}

/** Starts SERVER in a child; resolves with { child, port, output() }. */
async function startServer(t) {
  const child = spawn(process.execPath, ['-e', SERVER], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const port = await withTimeout(new Promise((resolve, reject) => {
    child.stdout.on('data', () => {
      const match = /port (\d+)/.exec(output);
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`the server exited (${code}): ${output}`)));
  }), 'the server to listen');
  return { child, port, output: () => output };
}

/** A raw client that completed the handshake with the server at `port`. */
async function established(port) {
  const client = await rawClient(port);
  const input = reader(client);
  client.write(REQUEST);
  assert.deepEqual(await input.read(4), POSITIVE);
  return { client, input };
}

test("the README's server without an 'error' listener survives an unknown frame type, a legacy 70000-byte message and a reset, and serves the next client", async (t) => {
  const server = await startServer(t);

  // 1. A frame of an unknown type after acceptance: the session closes.
  const unknown = await established(server.port);
  unknown.client.write(fromHex('42 00 00 00'));
  await closeOf(unknown.client);

  // 2. A 0.1.6 client's 70000-byte message: FLAGS 0x80 marks its length.
  const legacy = await established(server.port);
  legacy.client.write(Buffer.concat([fromHex('00 80 11 70'), Buffer.alloc(70000, 0x61)]));
  await closeOf(legacy.client);

  // 3. A client that resets its connection mid-session.
  const reset = await established(server.port);
  reset.client.write(fromHex('00 00 00 10 61 61'));
  reset.client.resetAndDestroy();
  await closeOf(reset.client);

  // 4. The next client is served.
  const next = await established(server.port);
  next.client.write(messageFrame(Buffer.from('still here')));
  assert.deepEqual(await next.input.read(14), messageFrame(Buffer.from('still here')));
  next.client.destroy();

  await settle();
  assert.equal(server.child.exitCode, null, `the server is still running:\n${server.output()}`);
  assert.doesNotMatch(server.output(), /Error|throw/, 'nothing was thrown');
  assert.equal(server.output().match(/call to DST<20> from SRC<00>/g).length, 4);
});

test("an attached session without an 'error' listener: a protocol error closes it, 'close' comes, the error is session.errored", async (t) => {
  const uncaught = watchUncaught(t);
  const c = await calledWithRawClient(t, { autoAccept: true }, (session, socket) => session.attach(socket));
  c.session.removeAllListeners('error'); // recordEvents listened; a 0.1.6 server does not
  c.client.write(REQUEST);
  assert.deepEqual(await c.clientIn.read(4), POSITIVE);
  await c.events.count('connect', 1);
  assert.equal(c.session.errored, null);
  c.client.write(fromHex('42 00 00 00'));
  await closeOf(c.session);
  assert.equal(c.session.errored.code, 'ERR_NETBIOS_PROTOCOL');
  assert.match(c.session.errored.message, /0x42/);
  await closeOf(c.client);
  await settle();
  assert.deepEqual(uncaught.stop(), []);
});

test("an attached session without an 'error' listener: requestTimeout and idleTimeout close it quietly too", async (t) => {
  const uncaught = watchUncaught(t);
  for (const [options, send, pattern] of [
    [{ requestTimeout: 50 }, null, /requestTimeout/],
    [{ autoAccept: true, idleTimeout: 50 }, REQUEST, /idleTimeout/],
  ]) {
    const c = await calledWithRawClient(t, options, (session, socket) => session.attach(socket));
    c.session.removeAllListeners('error');
    if (send) c.client.write(send);
    await closeOf(c.session);
    assert.equal(c.session.errored.code, 'ERR_NETBIOS_TIMEOUT');
    assert.match(c.session.errored.message, pattern);
  }
  await settle();
  assert.deepEqual(uncaught.stop(), []);
});

test('a reply racing the peer\'s protocol error: the write callback learns the session closed, nothing throws', async (t) => {
  const uncaught = watchUncaught(t);
  const replies = [];
  const c = await calledWithRawClient(t, { direct: true }, (session, socket) => {
    session.attach(socket);
    session.on('message', (message) => setImmediate(() => session.write(message, (error) => replies.push(error))));
  });
  c.session.removeAllListeners('error');
  c.client.write(Buffer.concat([messageFrame(Buffer.from('echo me')), fromHex('99 00 00 00')]));
  await closeOf(c.session);
  await withTimeout(new Promise((resolve) => setImmediate(resolve)), 'the reply');
  await settle();
  assert.equal(replies.length, 1);
  assert.equal(replies[0].code, 'ERR_NETBIOS_NOT_CONNECTED');
  assert.match(replies[0].message, /the session has closed \(ERR_NETBIOS_PROTOCOL\)/);
  assert.deepEqual(uncaught.stop(), []);
});

test('a network error kept quiet still reaches an errorMonitor listener', async (t) => {
  const { errorMonitor } = require('events');
  const monitored = [];
  const c = await calledWithRawClient(t, { autoAccept: true }, (session, socket) => session.attach(socket));
  c.session.removeAllListeners('error');
  c.session.on(errorMonitor, (error) => monitored.push(error.code));
  c.client.write(Buffer.concat([REQUEST, fromHex('42 00 00 00')]));
  await closeOf(c.session);
  assert.deepEqual(monitored, ['ERR_NETBIOS_PROTOCOL']);
});

test('session.errored stays null after end() and destroy(), and holds the error given to destroy(error)', async (t) => {
  const established = async () => {
    const c = await calledWithRawClient(t, { autoAccept: true }, (session, socket) => session.attach(socket));
    c.client.write(REQUEST);
    await c.events.count('connect', 1);
    return c;
  };
  const ended = await established();
  ended.session.end();
  ended.client.end();
  await closeOf(ended.session);
  assert.equal(ended.session.errored, null);

  const destroyed = await established();
  destroyed.session.destroy();
  await closeOf(destroyed.session);
  assert.equal(destroyed.session.errored, null);

  const failed = await established();
  const reason = new Error('shutting down');
  failed.session.destroy(reason);
  await closeOf(failed.session);
  assert.equal(failed.session.errored, reason);
});

test("an attached session with an 'error' listener still gets 'error', then 'close'", async (t) => {
  const c = await calledWithRawClient(t, { autoAccept: true }, (session, socket) => session.attach(socket));
  c.client.write(Buffer.concat([REQUEST, fromHex('42 00 00 00')]));
  const [[error]] = await c.events.count('error', 1);
  assert.equal(error.code, 'ERR_NETBIOS_PROTOCOL');
  await c.events.count('close', 1);
  assert.equal(c.session.errored, error);
  assert.deepEqual(c.events.log.map(({ event }) => event), ['connect', 'error', 'close']);
});

/** Runs `body` (a script with NetbiosSession, net and the REQUEST/POSITIVE frames in scope) in a child Node. */
function runScript(body) {
  const prelude = `
    const net = require('net');
    const NetbiosSession = require(${JSON.stringify(ROOT)});
    const POSITIVE = Buffer.from('${POSITIVE.toString('hex')}', 'hex');
  `;
  return runProcess(process.execPath, ['-e', prelude + body]);
}

test("a caller's session (connect()) without an 'error' listener keeps Node's rule: the peer's protocol error throws", async () => {
  const result = await runScript(`
    const peer = net.createServer((socket) => socket.once('data', () => socket.write(Buffer.concat([POSITIVE, Buffer.from('42000000', 'hex')]))));
    peer.listen(0, '127.0.0.1', () => {
      new NetbiosSession().connect(peer.address().port, '127.0.0.1', 'DST', 'SRC', () => console.log('connected'));
    });
  `);
  assert.equal(result.code, 1, result.stderr);
  assert.match(result.stdout, /connected/);
  assert.match(result.stderr, /ERR_NETBIOS_PROTOCOL/);
});

test("mistakes in the caller's own code keep Node's rule on an attached session: writing before it is up throws without a listener", async () => {
  const result = await runScript(`
    const server = net.createServer((socket) => {
      const session = new NetbiosSession();
      session.attach(socket, () => {});
      session.write(Buffer.from('too early'));
    });
    server.listen(0, '127.0.0.1', () => net.connect(server.address().port, '127.0.0.1'));
  `);
  assert.equal(result.code, 1, result.stderr);
  assert.match(result.stderr, /ERR_NETBIOS_NOT_CONNECTED/);
});
