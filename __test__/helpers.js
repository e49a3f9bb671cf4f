'use strict';
// Shared test helpers: loopback TCP servers and raw peers that send
// hand-built bytes, in-memory duplex pairs, and an encoder for NetBIOS names
// written from RFC 1001 section 14 independently of the Rust core; then the
// session fixtures several test files share (callers and called nodes
// facing raw peers, wait/callback utilities).

const assert = require('node:assert/strict');
const net = require('net');
const { spawn } = require('child_process');
const { Duplex } = require('stream');
const { once } = require('events');
const { setTimeout: sleep } = require('timers/promises');

const NetbiosSession = require('..');

const TIMEOUT = 5000;

/** The SESSION REQUEST that connect(port, host, 'DST', 'SRC') sends: DST<20> called, SRC<00> calling. */
const REQUEST = requestFrame(encodeName('DST', 0x20), encodeName('SRC', 0x00));

/** The POSITIVE SESSION RESPONSE, 82 00 00 00. */
const POSITIVE = Buffer.from([0x82, 0x00, 0x00, 0x00]);

/** The session events recordEvents() watches in the caller/called fixtures below. */
const SESSION_EVENTS = ['connect', 'message', 'error', 'end', 'close'];

/** Resolves with [value...] of the next `event`, rejecting after `ms`. */
function nextEvent(emitter, event, ms = TIMEOUT) {
  // A ref'd timer (AbortSignal.timeout's is not), so waiting on in-memory
  // streams fails with a timeout instead of an empty event loop.
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`timed out waiting for '${event}'`)), ms);
  return once(emitter, event, { signal: controller.signal }).finally(() => clearTimeout(timer));
}

/** A TCP server on 127.0.0.1 (or `host`) with an OS-chosen port (or `port`); rejects if it cannot listen. */
async function listen(onConnection, { host = '127.0.0.1', port = 0 } = {}) {
  const server = net.createServer(onConnection);
  server.listen(port, host);
  await nextEvent(server, 'listening');
  return { server, port: server.address().port };
}

/**
 * A raw TCP peer on loopback (`options` as for listen()). `accepted()`
 * resolves with the next accepted socket; `reader(socket)` gives `read(n)`,
 * which resolves with exactly the next n bytes that socket received.
 */
async function rawServer(options) {
  const queue = [];
  const waiting = [];
  const { server, port } = await listen((socket) => {
    socket.on('error', () => {});
    if (waiting.length) waiting.shift()(socket);
    else queue.push(socket);
  }, options);
  return {
    server,
    port,
    accepted() {
      if (queue.length) return Promise.resolve(queue.shift());
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no connection arrived')), TIMEOUT);
        waiting.push((socket) => {
          clearTimeout(timer);
          resolve(socket);
        });
      });
    },
    close() {
      server.close();
    },
  };
}

/** Reads exact byte counts from a stream, in order. */
function reader(stream) {
  let buffered = Buffer.alloc(0);
  let pending = null;
  let ended = false;
  const check = () => {
    if (!pending) return;
    if (buffered.length >= pending.n) {
      const out = buffered.subarray(0, pending.n);
      buffered = buffered.subarray(pending.n);
      const { resolve, timer } = pending;
      pending = null;
      clearTimeout(timer);
      resolve(Buffer.from(out));
    } else if (ended) {
      const { reject, timer } = pending;
      pending = null;
      clearTimeout(timer);
      reject(new Error(`stream ended after ${buffered.length} bytes`));
    }
  };
  stream.on('data', (chunk) => {
    buffered = Buffer.concat([buffered, chunk]);
    check();
  });
  stream.on('end', () => {
    ended = true;
    check();
  });
  return {
    read(n, ms = TIMEOUT) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${n} bytes`)), ms);
        pending = { n, resolve, reject, timer };
        check();
      });
    },
    /** Everything received until the stream ends. */
    async rest(ms = TIMEOUT) {
      if (!ended) await nextEvent(stream, 'end', ms);
      const out = buffered;
      buffered = Buffer.alloc(0);
      return out;
    },
  };
}

/** Two in-memory duplex streams wired to each other. */
function duplexPair() {
  const make = () =>
    new Duplex({
      read() {},
      write(chunk, encoding, callback) {
        this.peer.push(Buffer.from(chunk));
        callback();
      },
      final(callback) {
        this.peer.push(null);
        callback();
      },
      destroy(error, callback) {
        if (!this.peer.destroyed) this.peer.push(null);
        callback(error);
      },
    });
  const a = make();
  const b = make();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

/** Second-level encoding of a NetBIOS name (RFC 1001 section 14). */
function encodeName(name, suffix = 0x20, scope = '') {
  const raw = Buffer.alloc(16, 0x20);
  raw.write(name, 0, 'latin1');
  raw[15] = suffix;
  const out = [0x20];
  for (const byte of raw) out.push(0x41 + (byte >> 4), 0x41 + (byte & 0x0f));
  if (scope) {
    for (const label of scope.split('.')) {
      out.push(label.length, ...Buffer.from(label, 'latin1'));
    }
  }
  out.push(0);
  return Buffer.from(out);
}

/** A SESSION REQUEST frame, called name first. */
function requestFrame(called, calling) {
  const trailer = Buffer.concat([called, calling]);
  const header = Buffer.from([0x81, 0, trailer.length >> 8, trailer.length & 0xff]);
  return Buffer.concat([header, trailer]);
}

/** A NetBIOS SESSION MESSAGE frame with the RFC 1002 length bit. */
function messageFrame(payload) {
  const n = payload.length;
  return Buffer.concat([Buffer.from([0x00, n >> 16, (n >> 8) & 0xff, n & 0xff]), payload]);
}

/** Resolves once `stream` has emitted 'close'. */
function closed(stream, ms = TIMEOUT) {
  if (stream.destroyed && stream.closed) return Promise.resolve();
  return nextEvent(stream, 'close', ms);
}

/** Bytes from a hex string such as '82 00 00 00' (whitespace ignored). */
function fromHex(text) {
  return Buffer.from(text.replace(/\s+/g, ''), 'hex');
}

/** A raw TCP client on loopback, connected; socket errors (e.g. ECONNRESET) are swallowed. */
async function rawClient(port) {
  const socket = net.connect({ port, host: '127.0.0.1' });
  socket.on('error', () => {});
  await nextEvent(socket, 'connect');
  return socket;
}

/** Resolves after pending I/O callbacks and ticks have run (no timers, no timing). */
function settle(rounds = 3) {
  let p = Promise.resolve();
  for (let i = 0; i < rounds; i++) p = p.then(() => new Promise((resolve) => setImmediate(resolve)));
  return p;
}

/**
 * Records uncaught exceptions and unhandled rejections while active.
 * `stop()` removes the listeners and returns what was seen; given a test
 * context `t`, it is also called after the test.
 */
function watchUncaught(t) {
  const seen = [];
  const record = (error) => seen.push(error);
  process.on('uncaughtException', record);
  process.on('unhandledRejection', record);
  const watch = {
    seen,
    stop() {
      process.off('uncaughtException', record);
      process.off('unhandledRejection', record);
      return seen;
    },
  };
  if (t) t.after(() => watch.stop());
  return watch;
}

/** Rejects if `promise` has not settled within `ms` (a bound, never a timing assertion). */
function withTimeout(promise, what = 'operation', ms = TIMEOUT) {
  let timer;
  const timeout = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Records every emission of the named events: `log` is [{event, args}] in
 * order. `count(event)` resolves once `event` has been seen `n` times in all
 * (including emissions before the call), rejecting after `ms`.
 */
function recordEvents(emitter, events) {
  const log = [];
  const waiters = [];
  const of = (event) => log.filter((entry) => entry.event === event).map((entry) => entry.args);
  const check = () => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      const waiter = waiters[i];
      if (of(waiter.event).length >= waiter.n) {
        waiters.splice(i, 1);
        clearTimeout(waiter.timer);
        waiter.resolve(of(waiter.event));
      }
    }
  };
  for (const event of events) {
    emitter.on(event, (...args) => {
      log.push({ event, args });
      check();
    });
  }
  return {
    log,
    of,
    count(event, n, ms = TIMEOUT) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`timed out waiting for ${n} '${event}' events (saw ${of(event).length})`));
        }, ms);
        const waiter = { event, n, resolve, timer };
        waiters.push(waiter);
        check();
      });
    },
  };
}

/** Waits `ms` of wall-clock time, so pending I/O and timers run before a "nothing happened" check. */
function delay(ms = 50) {
  return sleep(ms);
}

/** Reads exactly n bytes with socket.read(), leaving the socket paused (no 'data' listener) afterwards. */
function readExactly(socket, n, ms = TIMEOUT) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${n} bytes`)), ms);
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

/** A payload whose bytes depend on their position and on `seed`. */
function pattern(length, seed = 0) {
  const out = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) out[i] = (i * 7 + seed) & 0xff;
  return out;
}

/** A loopback port that was just listening and now is closed: connecting is refused, listening is free. */
async function closedPort() {
  const { server, port } = await listen();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Both ends of one loopback TCP connection: `local` (accepted), `remote` (a raw client, errors swallowed), `close()` for both and the server. */
async function tcpPair() {
  const { server, port } = await listen();
  const accepted = nextEvent(server, 'connection');
  const remote = await rawClient(port);
  const [local] = await accepted;
  return {
    local,
    remote,
    close() {
      remote.destroy();
      local.destroy();
      server.close();
    },
  };
}

/** An in-memory sink recording each write()/writev() call's chunks in `calls`; writes complete at once, on a later turn (`slow`) or on `release()` (`hold`). */
function recordingDuplex({ slow = false, hold = false } = {}) {
  const calls = [];
  const held = [];
  const finish = (callback) => {
    if (hold) held.push(callback);
    else if (slow) setImmediate(callback);
    else callback();
  };
  const stream = new Duplex({
    read() {},
    write(chunk, encoding, callback) {
      calls.push([Buffer.from(chunk)]);
      finish(callback);
    },
    writev(chunks, callback) {
      calls.push(chunks.map(({ chunk }) => Buffer.from(chunk)));
      finish(callback);
    },
  });
  stream.calls = calls;
  stream.release = () => {
    while (held.length) held.shift()();
  };
  return stream;
}

/** Runs `start(callback)`, asserts the callback did not run before `start` returned (asynchronous), and resolves with its arguments. */
function asyncCallback(start, message = 'callback is asynchronous') {
  let called = false;
  const result = new Promise((resolve) => {
    start((...args) => {
      called = true;
      resolve(args);
    });
  });
  assert.equal(called, false, message);
  return result;
}

/** attach()es `session` to `stream` with a callback asserting no error and handing the request to `answer` (no callback without `answer`). */
function attachAnswering(session, stream, answer) {
  if (!answer) return session.attach(stream);
  return session.attach(stream, (error, request) => {
    assert.equal(error, null);
    answer(request);
  });
}

/** A callback and a promise of the arguments it is called with (rejecting after TIMEOUT, naming `what`). */
function callbackPromise(what) {
  let callback;
  const promise = new Promise((resolve) => {
    callback = (...args) => resolve(args);
  });
  return { callback, promise: withTimeout(promise, what) };
}

/** A direct-mode session attached to `stream`, once 'connect' has been emitted; any 'error' fails the test. */
async function attachedDirect(stream, options = {}) {
  const session = new NetbiosSession({ ...options, direct: true });
  session.on('error', (error) => assert.fail(error));
  const connected = nextEvent(session, 'connect');
  session.attach(stream);
  await connected;
  return session;
}

/** A session (no listeners added) connect()ed as DST/SRC to a raw peer that answered POSITIVE; the peer's `socket` stays unread unless `read` (then `peer` reads it). */
async function establishedOverTcp(t, options, { read = false } = {}) {
  const raw = await rawServer();
  t.after(() => raw.close());
  const session = new NetbiosSession(options);
  const done = new Promise((resolve, reject) => {
    session.connect(raw.port, '127.0.0.1', 'DST', 'SRC', (error) => (error ? reject(error) : resolve()));
  });
  const socket = await raw.accepted();
  t.after(() => socket.destroy());
  // Read the request by hand so no 'data' listener stays on the socket.
  assert.deepEqual(await readExactly(socket, REQUEST.length), REQUEST);
  socket.write(POSITIVE);
  await done;
  t.after(() => session.end());
  return { session, socket, peer: read ? reader(socket) : null };
}

/** A caller (`connect(port, host, ...names)`, events recorded) to a raw peer: `connected` (callback arguments), `peer` socket, `peerIn` reader. */
async function callerWithRawPeer(t, options, ...names) {
  const srv = await rawServer();
  t.after(() => srv.close());
  const session = new NetbiosSession(options);
  const events = recordEvents(session, SESSION_EVENTS);
  const connected = callbackPromise('the connect callback');
  session.connect(srv.port, '127.0.0.1', ...names, connected.callback);
  const peer = await srv.accepted();
  t.after(() => {
    session.end();
    peer.destroy();
  });
  return { session, events, connected: connected.promise, peer, peerIn: reader(peer) };
}

/** A DST/SRC caller whose raw peer has read the request (checked against `request`) and not answered yet. */
async function callerAwaitingResponse(t, options, request = REQUEST) {
  const c = await callerWithRawPeer(t, options, 'DST', 'SRC');
  assert.deepEqual(await c.peerIn.read(request.length), request);
  return c;
}

/** A DST/SRC caller whose raw peer has read the request (checked against `request`) and answered POSITIVE. */
async function establishedCaller(t, options, request = REQUEST) {
  const c = await callerAwaitingResponse(t, options, request);
  c.peer.write(POSITIVE);
  assert.deepEqual(await c.connected, [], 'connect callback gets no error');
  return c;
}

/** A called node (events recorded) set up on the accepted socket by `setup(session, socket)`, and a raw `client` connected to it (`clientIn` reads it). */
async function calledWithRawClient(t, options, setup) {
  let session;
  let events;
  const { server, port } = await listen((socket) => {
    session = new NetbiosSession(options);
    events = recordEvents(session, SESSION_EVENTS);
    setup(session, socket);
  });
  const accepted = nextEvent(server, 'connection');
  const client = await rawClient(port);
  const [socket] = await accepted;
  t.after(() => {
    client.destroy();
    socket.destroy();
    server.close();
  });
  return { session, events, socket, client, clientIn: reader(client) };
}

/** A called node established through autoAccept: the raw client sent `request`, read POSITIVE, and 'connect' was emitted. */
async function establishedCalled(t, options, request = REQUEST) {
  const c = await calledWithRawClient(t, { ...options, autoAccept: true }, (session, socket) => session.attach(socket));
  c.client.write(request);
  assert.deepEqual(await c.clientIn.read(4), POSITIVE);
  await c.events.count('connect', 1);
  return c;
}

/** An echoing called node (`sessions` accept every request, echo every message; errors ignored if `ignoreErrors`) and a `client` that sent SRV/CLI and read POSITIVE. */
async function echoCalledNode(options, { ignoreErrors = false } = {}) {
  const sessions = [];
  const { server, port } = await listen((socket) => {
    const session = new NetbiosSession(options);
    sessions.push(session);
    if (ignoreErrors) session.on('error', () => {});
    session.attach(socket, (error, request) => request.accept());
    session.on('message', (message) => session.write(message));
  });
  const client = net.connect(port, '127.0.0.1');
  const clientReader = reader(client);
  client.write(requestFrame(encodeName('SRV', 0x20), encodeName('CLI', 0x00)));
  assert.deepEqual([...(await clientReader.read(4))], [0x82, 0, 0, 0]);
  return { server, client, clientReader, sessions };
}

/** A port on `host` (a loopback address) that was just listening and now is closed. */
async function closedPortOn(host) {
  const { server, port } = await listen(undefined, { host });
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Resolves with {code, signal} once `child` has exited; after `ms` (0: never)
 * resolves with {code: null, signal: null, timedOut: true} instead.
 */
function processExit(child, ms = TIMEOUT) {
  const exited = new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  if (!ms) return exited;
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(() => resolve({ code: null, signal: null, timedOut: true }), ms);
  });
  return Promise.race([exited, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Runs `command` with `args` (no shell, stdin closed) and resolves with
 * {code, signal, stdout, stderr, timedOut}; the child is killed (SIGKILL)
 * after `timeout` ms.
 */
function runProcess(command, args, { timeout = TIMEOUT, env } = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env || process.env });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeout);
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ code: null, signal: null, stdout, stderr: `${stderr}${error.message}`, timedOut });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

module.exports = {
  attachedDirect,
  TIMEOUT,
  REQUEST,
  POSITIVE,
  SESSION_EVENTS,
  nextEvent,
  listen,
  rawServer,
  reader,
  duplexPair,
  encodeName,
  requestFrame,
  messageFrame,
  closed,
  fromHex,
  rawClient,
  settle,
  watchUncaught,
  withTimeout,
  recordEvents,
  delay,
  readExactly,
  pattern,
  closedPort,
  tcpPair,
  recordingDuplex,
  asyncCallback,
  attachAnswering,
  callbackPromise,
  establishedOverTcp,
  callerWithRawPeer,
  callerAwaitingResponse,
  establishedCaller,
  calledWithRawClient,
  establishedCalled,
  echoCalledNode,
  closedPortOn,
  processExit,
  runProcess,
};
