'use strict';
// The load, soak and leak runs, shared by soak/run.js (`npm run soak`, full
// size) and __test__/load.test.js (reduced, in `npm test`). The server runs
// in a child process (soak/server.js) so the two ends use both cores and
// each process's memory and handles can be read on their own.

const net = require('net');
const path = require('path');
const { fork } = require('child_process');

const NetbiosSession = require('..');
const { makeMessage, checkMessage } = require('./messages');
const { requestFrame, readBytes } = require('./net-util');

/** Rejects with `what` if `promise` has not settled within `ms` (a bound, never a measurement). */
function bounded(promise, ms, what) {
  let timer;
  const timeout = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Live handles and requests by type. */
function handles() {
  const counts = {};
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] || 0) + 1;
  return counts;
}

/** A full garbage collection: global.gc, or the same function enabled at run time. */
let collect = global.gc;
function gc() {
  if (!collect) {
    require('v8').setFlagsFromString('--expose-gc');
    collect = require('vm').runInNewContext('gc');
  }
  collect();
}

/** This process's memory and handles, after pending closes settle and two collections. */
async function snapshot() {
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
  return { memory: process.memoryUsage(), handles: handles() };
}

/** Forks soak/server.js; resolves once it listens. */
async function startServer() {
  const child = fork(path.join(__dirname, 'server.js'), [], {
    execArgv: ['--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await bounded(
    new Promise((resolve, reject) => {
      child.once('message', (message) => resolve(message.port));
      child.once('exit', (code) => reject(new Error(`soak server exited with ${code}`)));
    }),
    10000,
    'starting the soak server'
  );
  return {
    port,
    child,
    /** The server's counts, memory and handles (`gc`: collected first). */
    stats({ gc = true } = {}) {
      return bounded(
        new Promise((resolve) => {
          const onMessage = (message) => {
            if (message.type !== 'stats') return;
            child.off('message', onMessage);
            resolve(message);
          };
          child.on('message', onMessage);
          child.send({ type: 'stats', gc });
        }),
        10000,
        'soak server stats'
      );
    },
    stop() {
      if (!child.connected) return Promise.resolve();
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.send({ type: 'exit' });
      return bounded(exited, 10000, 'stopping the soak server').catch((error) => {
        child.kill('SIGKILL');
        throw error;
      });
    },
  };
}

/**
 * One checked client session `id`: connects, waits for `go`, sends
 * `messages` messages (lengths 0 to `maxLength`) with backpressure, at most
 * `window` of them not yet echoed (as SMB credits bound a client), and checks
 * every echo. Resolves with {echoed, problems, error} once the session
 * closed; `onEcho` runs after each intact echo.
 *
 * The window matters at 1000 sessions: without it every connection's kernel
 * buffers grow to megabytes (loopback autotuning) and together pass the
 * kernel's TCP memory limit (net.ipv4.tcp_mem), which then drops and
 * retransmits segments and slows everything to a crawl.
 */
function client(port, id, { messages, maxLength, window = 4, go = Promise.resolve(), onConnected = () => {}, onEcho = () => {} }) {
  return new Promise((resolve) => {
    const session = new NetbiosSession();
    const result = { id, echoed: 0, problems: [], error: null };
    let sent = 0;
    let draining = false;
    const send = () => {
      if (draining) return;
      while (sent < messages && sent - result.echoed < window) {
        const ok = session.write(makeMessage(id, sent, maxLength));
        sent += 1;
        if (!ok) {
          draining = true;
          session.once('drain', () => {
            draining = false;
            send();
          });
          return;
        }
      }
    };
    session.on('message', (message) => {
      const bad = checkMessage(message, id, result.echoed, maxLength);
      if (bad) result.problems.push(bad);
      result.echoed += 1;
      if (!bad) onEcho();
      if (result.echoed === messages) session.end();
      else send();
    });
    session.on('error', (error) => {
      result.error = result.error || error;
    });
    session.on('close', () => resolve(result));
    session.connect(port, '127.0.0.1', 'SOAK', `C${id}`, (error) => {
      onConnected();
      if (error) {
        result.error = error;
        return;
      }
      go.then(() => (messages === 0 ? session.end() : send()));
    });
  });
}

/**
 * A client that sends a valid request, then a message header declaring
 * 100000 bytes and 5000 of them, and resets the connection (RST) mid-frame.
 * Resolves once its socket closed.
 */
async function resetter(port, id) {
  const socket = net.connect({ port, host: '127.0.0.1' });
  socket.on('error', () => {});
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('close', () => reject(new Error('resetter could not connect')));
  });
  const positive = readBytes(socket, 4);
  socket.write(requestFrame('SOAK', `R${id}`));
  const response = await positive;
  if (response[0] !== 0x82) throw new Error(`resetter ${id}: response ${response.toString('hex')}`);
  const cut = Buffer.alloc(4 + 5000, 0xee);
  cut.writeUInt32BE(100000, 0); // 00 01 86 a0: the E bit and 0x86a0
  await new Promise((resolve) => socket.write(cut, resolve));
  const closed = new Promise((resolve) => socket.once('close', resolve));
  socket.resetAndDestroy();
  await closed;
}

/**
 * `sessions` concurrent checked sessions (all connected before any sends),
 * `messages` messages each of 0 to `maxLength` bytes, echoed by the server;
 * `resetters` cut-frame clients spread over the run. Resolves with totals.
 */
async function runLoad(port, { sessions, messages, maxLength, window, resetters = 0, idBase = 0, batch = 100, timeout }) {
  let releaseGo;
  const go = new Promise((resolve) => {
    releaseGo = resolve;
  });
  const total = sessions * messages;
  let echoed = 0;
  let nextReset = 0;
  const resets = [];
  const onEcho = () => {
    echoed += 1;
    // Resetters join along the way, evenly over the run.
    while (nextReset < resetters && echoed >= ((nextReset + 1) * total) / (resetters + 1)) {
      resets.push(resetter(port, idBase + nextReset));
      nextReset += 1;
    }
  };
  const started = Date.now();
  const results = [];
  for (let first = 0; first < sessions; first += batch) {
    const connected = [];
    for (let id = first; id < Math.min(sessions, first + batch); id++) {
      let onConnected;
      connected.push(
        new Promise((resolve) => {
          onConnected = resolve;
        })
      );
      results.push(client(port, idBase + id, { messages, maxLength, window, go, onConnected, onEcho }));
    }
    // A batch is up before the next one dials: every session is open at once.
    await bounded(Promise.race([Promise.all(connected), Promise.all(results)]), timeout, `connecting sessions ${first}..`);
  }
  const connectedAt = Date.now();
  releaseGo();
  const done = await bounded(Promise.all(results), timeout, 'the load run');
  while (nextReset < resetters) resets.push(resetter(port, idBase + nextReset++));
  await bounded(Promise.all(resets), timeout, 'the resetting clients');
  const problems = done.flatMap((r) => r.problems);
  return {
    sessions,
    messages,
    expected: total,
    echoed: done.reduce((sum, r) => sum + r.echoed, 0) - problems.length,
    problems,
    errors: done.filter((r) => r.error).map((r) => `${r.id}: ${r.error.code || ''} ${r.error.message}`),
    resetters,
    seconds: (Date.now() - started) / 1000,
    connectSeconds: (connectedAt - started) / 1000,
  };
}

/**
 * Opens and closes `sessions` sessions, `concurrency` at a time, each
 * sending `messages` checked messages (lengths 0 to `maxLength`).
 */
async function runChurn(port, { sessions, concurrency, messages = 1, maxLength = 1024, idBase = 0, timeout }) {
  let next = 0;
  let echoed = 0;
  const problems = [];
  const errors = [];
  const started = Date.now();
  const worker = async () => {
    while (next < sessions) {
      const id = idBase + next++;
      const result = await client(port, id, { messages, maxLength });
      echoed += result.echoed;
      problems.push(...result.problems);
      if (result.error) errors.push(`${id}: ${result.error.code || ''} ${result.error.message}`);
    }
  };
  await bounded(Promise.all(Array.from({ length: concurrency }, worker)), timeout, 'the open/close run');
  return { sessions, messages, expected: sessions * messages, echoed: echoed - problems.length, problems, errors, seconds: (Date.now() - started) / 1000 };
}

/** The difference of two handle counts: {type: after - before} for the types that changed. */
function handleDelta(before, after) {
  const delta = {};
  for (const type of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const d = (after[type] || 0) - (before[type] || 0);
    if (d !== 0) delta[type] = d;
  }
  return delta;
}

const MiB = 1024 * 1024;

module.exports = { gc, bounded, snapshot, handles, startServer, client, resetter, runLoad, runChurn, handleDelta, MiB };
