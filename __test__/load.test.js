'use strict';
// Load, soak and leaks, reduced for `npm test` (`npm run soak` runs the full
// sizes: 1000 sessions, 1 M messages, 10 k sessions). One server in a child
// process (soak/server.js) checks and echoes every message; this process is
// the client side and checks every echo. Messages carry a session id, a
// sequence number, their length and a CRC-32 (soak/messages.js).
//
// Leaks: the baseline is taken after a first, identical pass of the runs,
// so one-time growth (JIT code, V8 pages, the allocator's arenas reaching
// their working size) is not taken for a leak.
// Active handles must return to it exactly in both processes; the JS heap
// within HEAP_TOLERANCE and RSS within RSS_TOLERANCE.

const test = require('node:test');
const assert = require('node:assert/strict');

const { startServer, snapshot, runLoad, runChurn, handleDelta, MiB } = require('../soak/harness');

// glibc's arenas keep growing for a few passes of this mix of message sizes
// before they level off (measured: +10 to +24 MiB per pass for the first
// four, then flat within 3 MiB for six more), while the JS heap stays flat:
// the tolerance covers that settling; handles must match exactly.
const RSS_TOLERANCE = 48 * MiB;
const HEAP_TOLERANCE = 4 * MiB;
const TIMEOUT = 60000;

let server;
let baseline;

async function both() {
  // One after the other: a pending stats request holds a timer of its own.
  const client = await snapshot();
  const remote = await server.stats({ gc: true });
  return { client, server: { memory: remote.memory, handles: remote.handles }, stats: remote.stats };
}

function assertClean(run, what) {
  assert.deepEqual(run.problems.slice(0, 5), [], `${what}: messages lost, corrupted or reordered`);
  assert.deepEqual(run.errors.slice(0, 5), [], `${what}: session errors`);
  assert.equal(run.echoed, run.expected, `${what}: every message echoed intact`);
}

/** The three runs below, once: the warm-up pass. */
async function warmUp() {
  assertClean(await runLoad(server.port, { sessions: 100, messages: 100, maxLength: 131071, resetters: 10, idBase: 900000, timeout: TIMEOUT }), 'warm-up');
  assertClean(await runLoad(server.port, { sessions: 1, messages: 100000, maxLength: 1024, idBase: 910000, timeout: TIMEOUT }), 'warm-up');
  assertClean(await runChurn(server.port, { sessions: 1000, concurrency: 50, idBase: 920000, timeout: TIMEOUT }), 'warm-up');
}

test.before(async () => {
  server = await startServer();
  // The same runs once first, then the baseline: a leak is what a second
  // identical pass adds.
  await warmUp();
  baseline = await both();
});

test.after(async () => {
  if (server) await server.stop();
});

test('load: 100 concurrent sessions x 100 messages of 0..131071 bytes, checked and echoed: none lost, corrupted or reordered; 10 clients resetting mid-frame disturb no one', async (t) => {
  const before = await server.stats({ gc: false });
  const run = await runLoad(server.port, { sessions: 100, messages: 100, maxLength: 131071, resetters: 10, timeout: TIMEOUT });
  t.diagnostic(`${run.echoed} messages echoed in ${run.seconds.toFixed(1)} s`);
  assertClean(run, 'load');
  const after = await server.stats({ gc: false });
  assert.equal(after.stats.bad, 0, after.stats.problems.join('; '));
  assert.equal(after.stats.messages - before.stats.messages, 100 * 100, 'the server checked every message');
  // Each resetting client's session ended in an error with a code: the reset
  // itself, or the truncation it caused.
  const resetErrors = (s) => (s.errors.ECONNRESET || 0) + (s.errors.ERR_NETBIOS_PROTOCOL || 0);
  assert.equal(resetErrors(after.stats) - resetErrors(before.stats), 10, JSON.stringify(after.stats.errors));
});

test('soak: 100,000 messages of 0..1024 bytes through one session, checked and echoed', async (t) => {
  const run = await runLoad(server.port, { sessions: 1, messages: 100000, maxLength: 1024, idBase: 100000, timeout: TIMEOUT });
  t.diagnostic(`${run.echoed} messages in ${run.seconds.toFixed(1)} s`);
  assertClean(run, 'soak');
});

test('churn: 1000 sessions opened and closed, 50 at a time, one checked message each', async (t) => {
  const run = await runChurn(server.port, { sessions: 1000, concurrency: 50, idBase: 200000, timeout: TIMEOUT });
  t.diagnostic(`${run.sessions} sessions in ${run.seconds.toFixed(1)} s`);
  assertClean(run, 'churn');
});

test(`leaks: after the runs above, active handles equal the baseline in both processes, JS heap within ${HEAP_TOLERANCE / MiB} MiB and RSS within ${RSS_TOLERANCE / MiB} MiB of it`, async (t) => {
  const after = await both();
  assert.equal(after.stats.accepted, after.stats.closed, 'every server session closed');
  for (const side of ['client', 'server']) {
    const [b, a] = [baseline[side], after[side]];
    t.diagnostic(
      `${side}: RSS ${(b.memory.rss / MiB).toFixed(1)} -> ${(a.memory.rss / MiB).toFixed(1)} MiB, ` +
        `JS heap ${(b.memory.heapUsed / MiB).toFixed(1)} -> ${(a.memory.heapUsed / MiB).toFixed(1)} MiB, ` +
        `handles ${JSON.stringify(b.handles)} -> ${JSON.stringify(a.handles)}`
    );
    assert.deepEqual(handleDelta(b.handles, a.handles), {}, `${side}: active handles back to the baseline`);
    assert.ok(a.memory.heapUsed - b.memory.heapUsed < HEAP_TOLERANCE, `${side}: JS heap grew ${((a.memory.heapUsed - b.memory.heapUsed) / MiB).toFixed(1)} MiB`);
    assert.ok(a.memory.rss - b.memory.rss < RSS_TOLERANCE, `${side}: RSS grew ${((a.memory.rss - b.memory.rss) / MiB).toFixed(1)} MiB`);
  }
});
