'use strict';
// A session's deadlines. The core has one next deadline per session
// (dial, setup, request, idle, keep-alive or close: table.pollTimeout); it
// waits in one of two shared heaps (deadlines.js) and, when it passes, the
// core says what follows (table.handleTimeout): a failure, the close, or a
// keep-alive to send. Which heap is the driver's one choice: a session
// that is ending or has answered waits for its peer's close in `closing`,
// whose timer does not keep the process alive; every other deadline waits
// in `deadlines`, whose timer does, like any pending setup.

const { performance } = require('perf_hooks');

const { table } = require('./native');
const { Deadlines } = require('./deadlines');
const { State, SENT } = require('./constants');

function onDue(session) {
  session._onTimer();
}

const deadlines = new Deadlines(onDue, true);
const closing = new Deadlines(onDue, false);

const methods = {
  /** Waits for the earliest deadline the core has, in the heap its state calls for. */
  _armTimer() {
    const due = this._native === null ? null : table.pollTimeout(this._native);
    if (due === null) {
      this._clearTimer();
      return;
    }
    const state = this._state;
    const closeWait = state === State.ENDING || state === State.ANSWERED;
    const heap = closeWait ? closing : deadlines;
    // A session waits in one heap at a time (they share its slot).
    (closeWait ? deadlines : closing).cancel(this);
    // A deadline that comes no later is kept: its expiry re-arms for the rest.
    if (heap.has(this) && this._timerDue <= due) return;
    heap.schedule(this, due);
  },

  _clearTimer() {
    deadlines.cancel(this);
    closing.cancel(this);
  },

  _onTimer() {
    if (this._terminated) return;
    if (this._native === null) {
      // An answered session let go of its native state: its close deadline passed.
      if (this._state === State.ANSWERED) this._terminate(null, false);
      return;
    }
    const state = (this._state = table.handleTimeout(this._native, performance.now()));
    if (state === State.FAILED) {
      this._failFromCore();
      return;
    }
    if (state === State.CLOSED) {
      // The peer did not close within the close deadline: cut it off.
      this._terminate(null, false);
      return;
    }
    if (state === State.ESTABLISHED) this._sendQueued(SENT.KEEP_ALIVE);
    this._armTimer();
  },
};

module.exports = { methods };
