'use strict';
// Memory under flood: a session started paused (so established, but not
// reading) whose peer writes 100 MiB. The receiving process (a child, so
// the test runner's own memory does not interfere) must grow by less than
// 2 MiB of RSS while the flood pushes against it, and after resume() every
// message must arrive intact and in order (per-message CRC-32 and sequence
// number, and a SHA-256 over the whole stream).

const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('crypto');
const path = require('path');
const { fork } = require('child_process');

const { REQUEST, POSITIVE, nextEvent, rawClient, reader, withTimeout } = require('./helpers');
const { makeMessage } = require('../soak/messages');

const MiB = 1024 * 1024;
// FLOOD_MIB overrides the size, to check that growth after resume() does not scale with it.
const TOTAL = Number(process.env.FLOOD_MIB || 100) * MiB;

/** The next IPC message of `type` from `child`. */
function fromChild(child, type, ms = 20000) {
  return withTimeout(
    new Promise((resolve, reject) => {
      const onMessage = (message) => {
        if (message.type === 'error') reject(new Error(`receiver: ${message.code} ${message.message}`));
        if (message.type !== type) return;
        child.off('message', onMessage);
        resolve(message);
      };
      child.on('message', onMessage);
    }),
    `the receiver's '${type}'`,
    ms
  );
}

/** A NetBIOS SESSION MESSAGE frame (17-bit length: E bit 0x01). */
function frame(payload) {
  const header = Buffer.from([0x00, payload.length >> 16, (payload.length >> 8) & 0xff, payload.length & 0xff]);
  return [header, payload];
}

test(`flood: ${TOTAL / MiB} MiB into a paused session grows the receiving process by less than 2 MiB of RSS; after resume() every byte arrives intact`, async (t) => {
  const child = fork(path.join(__dirname, '..', 'soak', 'flood-receiver.js'), [], {
    execArgv: ['--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  t.after(() => child.kill('SIGKILL'));
  const { port } = await fromChild(child, 'listening');
  const baselineReady = fromChild(child, 'baseline');
  const socket = await rawClient(port);
  t.after(() => socket.destroy());
  const input = reader(socket);
  socket.write(REQUEST);
  assert.deepEqual(await input.read(4), POSITIVE);
  const { rss: baseline } = await baselineReady;

  // The messages: random lengths 0..131071 with sequence numbers and CRCs,
  // until 100 MiB; a SHA-256 over all of them for the end-to-end check.
  const digest = crypto.createHash('sha256');
  let seq = 0;
  let written = 0;
  const next = () => {
    const message = makeMessage(1, seq++, 131071);
    digest.update(message);
    written += message.length;
    return message;
  };
  // Write with backpressure until a write returns false and no 'drain'
  // comes within 300 ms: the paused receiver stopped reading.
  let stalled = false;
  while (written < TOTAL && !stalled) {
    for (const part of frame(next())) {
      if (!socket.write(part)) {
        const drained = await nextEvent(socket, 'drain', 300).then(
          () => true,
          () => false
        );
        stalled = !drained;
      }
    }
  }
  assert.ok(stalled, 'the paused receiver kept reading');
  const measured = fromChild(child, 'measured');
  child.send({ type: 'measure' });
  const paused = await measured;
  const growth = paused.rss - baseline;
  t.diagnostic(
    `paused: peer had written ${(written / MiB).toFixed(1)} MiB (${(socket.writableLength / MiB).toFixed(1)} MiB still in its own buffer), ` +
      `receiver read ${(paused.bytesRead / MiB).toFixed(2)} MiB, RSS ${(baseline / MiB).toFixed(1)} -> ${(paused.rss / MiB).toFixed(1)} MiB (${(growth / MiB).toFixed(2)} MiB)`
  );
  assert.ok(growth < 2 * MiB, `receiver RSS grew ${(growth / MiB).toFixed(2)} MiB while paused under the flood`);
  assert.ok(paused.bytesRead < 8 * MiB, `a paused session read ${(paused.bytesRead / MiB).toFixed(1)} MiB`);

  // Resume: the rest of the 100 MiB flows, and all of it arrives intact.
  const done = fromChild(child, 'done', 60000);
  child.send({ type: 'resume' });
  while (written < TOTAL) {
    for (const part of frame(next())) {
      if (!socket.write(part)) await nextEvent(socket, 'drain', 20000);
    }
  }
  socket.end();
  const result = await done;
  t.diagnostic(
    `after resume: ${result.messages} messages, ${(result.bytes / MiB).toFixed(1)} MiB; receiver RSS at the end ${(result.rssAtEnd / MiB).toFixed(1)} MiB, ` +
      `after GC ${(result.rssAfterGc / MiB).toFixed(1)} MiB (baseline ${(baseline / MiB).toFixed(1)})`
  );
  assert.equal(result.bad, null, result.bad);
  assert.equal(result.messages, seq);
  assert.equal(result.bytes, written);
  assert.equal(result.digest, digest.digest('hex'), 'SHA-256 of everything received matches what was sent');
  child.send({ type: 'exit' });
});
