'use strict';
// lib/deadlines.js: many sessions' deadlines on one timer (a min-heap).

const test = require('node:test');
const assert = require('node:assert/strict');
const { performance } = require('perf_hooks');

const { Deadlines } = require('../lib/deadlines');

const waiter = (name) => ({ name, _timerDue: 0, _timerSlot: -1 });

/** Checks the heap order and that every session knows its own slot. */
function assertHeap(deadlines) {
  const heap = deadlines._heap;
  heap.forEach((session, slot) => {
    assert.equal(session._timerSlot, slot, `${session.name} knows its slot`);
    if (slot > 0) assert.ok(heap[(slot - 1) >> 1]._timerDue <= session._timerDue, 'a parent is due no later than its child');
  });
}

/** Resolves once `count` sessions have come due, with their names in order. */
function collect(count, keepAlive = true, onDue = () => {}) {
  const fired = [];
  let resolve;
  const done = new Promise((r) => {
    resolve = r;
  });
  const deadlines = new Deadlines((session) => {
    fired.push(session.name);
    if (fired.length === count) resolve(fired);
    onDue(session);
  }, keepAlive);
  return { deadlines, done, fired };
}

test('sessions come due in deadline order, each once, cancelled ones never', async () => {
  const now = performance.now();
  const offsets = [25, 5, 40, 15, 5, 30, 10, 35, 20, 45];
  const { deadlines, done, fired } = collect(offsets.length - 2);
  const sessions = offsets.map((offset, i) => waiter(`s${i}@${offset}`));
  sessions.forEach((session, i) => deadlines.schedule(session, now + offsets[i]));
  assertHeap(deadlines);
  deadlines.cancel(sessions[2]); // @40
  deadlines.cancel(sessions[6]); // @10
  deadlines.cancel(sessions[6]); // twice is harmless
  assertHeap(deadlines);
  assert.equal(deadlines.size, offsets.length - 2);
  await done;
  const expected = sessions
    .filter((_, i) => i !== 2 && i !== 6)
    .sort((a, b) => a._timerDue - b._timerDue)
    .map((session) => session.name);
  assert.deepEqual(fired, expected);
  assert.equal(deadlines.size, 0);
  assert.equal(deadlines._timer, null, 'a timer that fired with nothing left is not set again');
  for (const session of sessions) assert.equal(session._timerSlot, -1);
});

test('schedule() moves a waiting session earlier or later', async () => {
  const now = performance.now();
  const { deadlines, done } = collect(3);
  const [a, b, c] = ['a', 'b', 'c'].map(waiter);
  deadlines.schedule(a, now + 10);
  deadlines.schedule(b, now + 20);
  deadlines.schedule(c, now + 30);
  deadlines.schedule(a, now + 40); // later
  deadlines.schedule(c, now + 5); // earlier
  assertHeap(deadlines);
  assert.equal(deadlines.size, 3, 'moving does not add a second entry');
  assert.deepEqual(await done, ['c', 'b', 'a']);
});

test('a session that sets a past deadline again from its callback waits for the next expiry', async () => {
  let calls = 0;
  let resolve;
  const twice = new Promise((r) => {
    resolve = r;
  });
  const session = waiter('again');
  const deadlines = new Deadlines((due) => {
    calls += 1;
    if (calls === 1) deadlines.schedule(due, performance.now() - 1000);
    else resolve();
  }, true);
  deadlines.schedule(session, performance.now() + 1);
  await twice;
  assert.equal(calls, 2, 'called again on a later expiry, not in a loop');
});

test('a callback that throws does not cost the other due sessions their turn', async () => {
  const { deadlines, done: all, fired } = collect(3, true, (session) => {
    if (session.name === 'b') throw new Error('listener failed');
  });
  const thrown = [];
  const onUncaught = (error) => thrown.push(error.message);
  // node:test reports uncaught exceptions as failures: take this one first.
  const listeners = process.listeners('uncaughtException');
  process.removeAllListeners('uncaughtException');
  process.on('uncaughtException', onUncaught);
  try {
    // All past due: they come due together, in order, on the timer's first expiry.
    const now = performance.now();
    for (const [name, offset] of [['a', -3], ['b', -2], ['c', -1]]) deadlines.schedule(waiter(name), now + offset);
    let watchdog;
    const lost = new Promise((_, reject) => {
      watchdog = setTimeout(() => reject(new Error(`only ${fired} came due`)), 2000);
    });
    await Promise.race([all, lost]).finally(() => clearTimeout(watchdog));
  } finally {
    process.removeListener('uncaughtException', onUncaught);
    for (const listener of listeners) process.on('uncaughtException', listener);
  }
  assert.deepEqual(fired, ['a', 'b', 'c']);
  assert.deepEqual(thrown, ['listener failed']);
});

test('keepAlive sets whether the shared timer holds the process open', async () => {
  const strong = new Deadlines(() => {}, true);
  const weak = new Deadlines(() => {}, false);
  const a = waiter('a');
  const b = waiter('b');
  strong.schedule(a, performance.now() + 60000);
  weak.schedule(b, performance.now() + 60000);
  assert.equal(strong._timer.hasRef(), true);
  assert.equal(weak._timer.hasRef(), false);
  strong.cancel(a);
  weak.cancel(b);
  assert.equal(strong._timer.hasRef(), true, 'still held until the current callback and its ticks are done');
  await null;
  assert.equal(strong._timer.hasRef(), false, 'an empty heap does not hold the process open');
  assert.equal(weak._timer.hasRef(), false);
  strong.schedule(a, performance.now() + 90000);
  assert.equal(strong._timer.hasRef(), true, 'the kept timer holds it again once a session waits');
  strong.cancel(a);
  strong.schedule(b, performance.now() + 90000);
  await null;
  assert.equal(strong._timer.hasRef(), true, 'a session that waits again before then keeps it held');
  strong.cancel(b);
  clearTimeout(strong._timer);
  clearTimeout(weak._timer);
});

test('an empty heap lets the process exit', () => {
  const { spawnSync } = require('child_process');
  const script = `
    const { Deadlines } = require(${JSON.stringify(require.resolve('../lib/deadlines'))});
    const deadlines = new Deadlines(() => {}, true);
    const session = { _timerDue: 0, _timerSlot: -1 };
    deadlines.schedule(session, performance.now() + 60000);
    deadlines.cancel(session);
  `;
  // Killed (status null) if it were still waiting for the cancelled 60 s deadline.
  const result = spawnSync(process.execPath, ['-e', script], { timeout: 20000 });
  assert.equal(result.status, 0, String(result.stderr));
});

test('a session waiting in one heap is not touched by another', () => {
  const first = new Deadlines(() => {}, false);
  const second = new Deadlines(() => {}, false);
  const a = waiter('a');
  const b = waiter('b');
  first.schedule(a, performance.now() + 60000);
  second.schedule(b, performance.now() + 60000);
  // Both sit in slot 0 of their own heap.
  assert.equal(first.has(a), true);
  assert.equal(second.has(a), false);
  second.cancel(a);
  assert.equal(first.has(a), true, "another heap's cancel is a no-op");
  assert.equal(second.has(b), true);
  first.cancel(a);
  second.cancel(b);
});

test('random schedules, moves and cancels keep the heap ordered (model check)', () => {
  const deadlines = new Deadlines(() => {}, false);
  const sessions = Array.from({ length: 200 }, (_, i) => waiter(`s${i}`));
  const model = new Map();
  let seed = 12345;
  const random = (n) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const base = performance.now() + 3600000;
  for (let step = 0; step < 5000; step++) {
    const session = sessions[random(sessions.length)];
    if (random(3) === 0) {
      deadlines.cancel(session);
      model.delete(session);
    } else {
      const due = base + random(1000);
      deadlines.schedule(session, due);
      model.set(session, due);
    }
    if (step % 250 === 0) assertHeap(deadlines);
  }
  assertHeap(deadlines);
  assert.equal(deadlines.size, model.size);
  for (const session of sessions) assert.equal(deadlines.has(session), model.has(session));
  const earliest = Math.min(...model.values());
  assert.equal(deadlines._heap[0]._timerDue, earliest);
  for (const session of sessions) deadlines.cancel(session);
  assert.equal(deadlines.size, 0);
});
