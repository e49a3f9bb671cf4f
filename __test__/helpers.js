'use strict';
// Shared test helpers: loopback TCP servers and raw peers that send
// hand-built bytes, in-memory duplex pairs, and an encoder for NetBIOS names
// written from RFC 1001 section 14 independently of the Rust core.

const net = require('net');
const { Duplex } = require('stream');
const { once } = require('events');

const TIMEOUT = 5000;

/** Resolves with [value...] of the next `event`, rejecting after `ms`. */
function nextEvent(emitter, event, ms = TIMEOUT) {
  // A ref'd timer (AbortSignal.timeout's is not), so waiting on in-memory
  // streams fails with a timeout instead of an empty event loop.
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`timed out waiting for '${event}'`)), ms);
  return once(emitter, event, { signal: controller.signal }).finally(() => clearTimeout(timer));
}

/** A TCP server on 127.0.0.1 with an OS-chosen port. */
async function listen(onConnection) {
  const server = net.createServer(onConnection);
  server.listen(0, '127.0.0.1');
  await nextEvent(server, 'listening');
  return { server, port: server.address().port };
}

/**
 * A raw TCP peer on loopback. `accepted()` resolves with the next accepted
 * socket; `reader(socket)` gives `read(n)`, which resolves with exactly the
 * next n bytes that socket received.
 */
async function rawServer() {
  const queue = [];
  const waiting = [];
  const { server, port } = await listen((socket) => {
    socket.on('error', () => {});
    if (waiting.length) waiting.shift()(socket);
    else queue.push(socket);
  });
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
 * `stop()` removes the listeners and returns what was seen.
 */
function watchUncaught() {
  const seen = [];
  const record = (error) => seen.push(error);
  process.on('uncaughtException', record);
  process.on('unhandledRejection', record);
  return {
    seen,
    stop() {
      process.off('uncaughtException', record);
      process.off('unhandledRejection', record);
      return seen;
    },
  };
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

module.exports = {
  TIMEOUT,
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
};
