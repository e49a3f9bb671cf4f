'use strict';
// Deadlines of many sessions on one Node timer.
//
// A setTimeout per session costs a Timeout object, a call into libuv for the
// loop time and a list insertion, and clearing it costs as much again: a few
// microseconds per session setup, which arms and clears two. Here a session
// waits in a binary min-heap ordered by its due time, and one timer is set
// for the earliest. Sessions keep their own slot number, so cancelling is
// O(log n) with no search and no allocation.
//
// The heap keeps two fields on each session: `_timerDue` (performance.now()
// ms) and `_timerSlot` (-1 when not waiting). Fixed names keep V8's property
// accesses monomorphic; so that two heaps can share them, a session waits
// in at most one heap at a time, and each heap checks that a slot is its own.

const { performance } = require('perf_hooks');

const SETTLED = Promise.resolve();

class Deadlines {
  /**
   * @param {(session: object) => void} onDue called once a session's due time has passed; it is out of the heap by then
   * @param {boolean} keepAlive whether waiting sessions keep the process alive (Timeout#ref)
   */
  constructor(onDue, keepAlive) {
    this._onDue = onDue;
    this._keepAlive = keepAlive;
    this._heap = [];
    this._timer = null;
    this._firesAt = Infinity;
    this._fire = () => this._expire();
    this._unrefQueued = false;
    this._unrefIfIdle = () => {
      this._unrefQueued = false;
      if (this._heap.length === 0 && this._timer !== null) this._timer.unref();
    };
  }

  get size() {
    return this._heap.length;
  }

  /** Whether `session` waits in this heap. */
  has(session) {
    const slot = session._timerSlot;
    return slot >= 0 && this._heap[slot] === session;
  }

  /** Sets (or moves) `session`'s deadline to `due`. It must not wait in another heap. */
  schedule(session, due) {
    const slot = session._timerSlot;
    if (slot >= 0 && this._heap[slot] !== session) {
      // Its slot belongs to the other heap: both would break.
      throw new Error('internal error: a session scheduled in two deadline heaps at once');
    }
    session._timerDue = due;
    if (!this.has(session)) {
      this._heap.push(session);
      this._up(this._heap.length - 1);
    } else {
      this._up(slot);
      this._down(session._timerSlot);
    }
    this._arm();
  }

  /** Removes `session`'s deadline, if it has one. */
  cancel(session) {
    if (!this.has(session)) return;
    const slot = session._timerSlot;
    session._timerSlot = -1;
    const last = this._heap.pop();
    if (last !== session) {
      this._heap[slot] = last;
      last._timerSlot = slot;
      this._up(slot);
      this._down(last._timerSlot);
    }
    // The timer stays set: firing early costs one wake-up, and setting it
    // again each time the earliest session leaves would cost more. With no
    // session left it must not hold the process open, though: it is unref'd
    // once the current callback and its ticks are done, unless a session
    // waits again by then (a client that opens the next session as the last
    // one is established would otherwise toggle it twice per session, each
    // a call into Node's C++).
    if (this._heap.length === 0 && this._timer !== null && this._keepAlive && !this._unrefQueued) {
      this._unrefQueued = true;
      // A promise reaction rather than queueMicrotask(), which wraps each
      // callback in an AsyncResource (three times the cost, measured).
      SETTLED.then(this._unrefIfIdle);
    }
  }

  _expire() {
    this._timer = null;
    this._firesAt = Infinity;
    const now = performance.now();
    const heap = this._heap;
    // Taken out first, then called: a session that sets a deadline again
    // (even one already past) waits for the next expiry, never loops here.
    const due = [];
    while (heap.length > 0 && heap[0]._timerDue <= now) {
      const session = heap[0];
      this.cancel(session);
      due.push(session);
    }
    for (let i = 0; i < due.length; i++) {
      try {
        this._onDue(due[i]);
      } catch (error) {
        // A throwing handler (an 'error' listener, say) must not cost the
        // other sessions their deadlines: they wait again, due at once.
        for (let j = i + 1; j < due.length; j++) this.schedule(due[j], due[j]._timerDue);
        this._arm();
        throw error;
      }
    }
    this._arm();
  }

  /** Makes sure the timer fires no later than the earliest deadline. */
  _arm() {
    if (this._heap.length === 0) return;
    const due = this._heap[0]._timerDue;
    if (this._timer !== null && this._firesAt <= due) {
      if (this._keepAlive) this._timer.ref();
      return;
    }
    this._stop();
    // Node's timers count whole ms on a clock that can lag performance.now(),
    // so the timer may fire a little early: _expire then sets it again.
    this._timer = setTimeout(this._fire, Math.max(1, Math.ceil(due - performance.now())));
    if (!this._keepAlive) this._timer.unref();
    this._firesAt = due;
  }

  _stop() {
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
      this._firesAt = Infinity;
    }
  }

  _up(slot) {
    const heap = this._heap;
    const session = heap[slot];
    const due = session._timerDue;
    while (slot > 0) {
      const parent = (slot - 1) >> 1;
      const above = heap[parent];
      if (above._timerDue <= due) break;
      heap[slot] = above;
      above._timerSlot = slot;
      slot = parent;
    }
    heap[slot] = session;
    session._timerSlot = slot;
  }

  _down(slot) {
    const heap = this._heap;
    const length = heap.length;
    const session = heap[slot];
    const due = session._timerDue;
    for (;;) {
      let child = 2 * slot + 1;
      if (child >= length) break;
      if (child + 1 < length && heap[child + 1]._timerDue < heap[child]._timerDue) child++;
      const below = heap[child];
      if (below._timerDue >= due) break;
      heap[slot] = below;
      below._timerSlot = slot;
      slot = child;
    }
    heap[slot] = session;
    session._timerSlot = slot;
  }
}

module.exports = { Deadlines };
