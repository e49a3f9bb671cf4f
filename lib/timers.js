'use strict';
// A session's deadlines: the earliest one the core (or a direct caller's TCP
// connect) has waits in the shared `deadlines` heap, and an ended session's
// wait for the peer to close in `closing` (heaps: deadlines.js). On expiry
// the core says what happens: a timeout, or a keep-alive to send.

// Bound, not read through the global: see session.js.
const { Buffer } = require('buffer');
const { performance } = require('perf_hooks');

const { table, MAX_CONTROL_FRAME } = require('./native');
const { Deadlines } = require('./deadlines');
const { codes, netbiosError } = require('./errors');
const { State, written } = require('./constants');

// RFC 1002's SSN_CLOSE_TIMEOUT: how long end() waits for the peer to close.
const CLOSE_TIMEOUT = 30000;

function onSessionTimer(session) {
  session._onTimer();
}

function onCloseTimeout(session) {
  session._terminate(null, false);
}

// Every session's next deadline (the core's, or a direct caller's TCP
// connect), on one timer that keeps the process alive like any pending
// setup; and the close deadlines of ended sessions, which must not.
const deadlines = new Deadlines(onSessionTimer, true);
const closing = new Deadlines(onCloseTimeout, false);

const methods = {
  /** Waits in `deadlines` for the earliest deadline the core (or a direct dial) has. */
  _armTimer() {
    if (this._native === null || this._ending) {
      this._clearTimer();
      return;
    }
    // Without idleTimeout and keepAlive an established session has no
    // deadline: no need to ask the core.
    const untimed = this._state === State.ESTABLISHED && !this._settings.timedWhenEstablished;
    let due = untimed ? null : table.pollTimeout(this._native);
    if (this._dialDeadline !== null && this._state === State.CONNECTING) {
      due = due === null ? this._dialDeadline : Math.min(due, this._dialDeadline);
    }
    if (due === null) {
      this._clearTimer();
      return;
    }
    // A deadline that comes no later is kept: its expiry re-arms for the rest.
    if (deadlines.has(this) && this._timerDue <= due) return;
    deadlines.schedule(this, due);
  },

  _clearTimer() {
    deadlines.cancel(this);
  },

  _onTimer() {
    if (this._native === null || this._terminated) return;
    const now = performance.now();
    if (this._dialDeadline !== null && this._state === State.CONNECTING && now >= this._dialDeadline) {
      const { host, port } = this._target;
      const message = `TCP connection to ${host}:${port} did not complete within ${this._settings.timeout} ms (timeout)`;
      this._fail(netbiosError(codes.TIMEOUT, message));
      return;
    }
    const expired = table.handleTimeout(this._native, now);
    if (expired !== null) {
      this._fail(netbiosError(codes.TIMEOUT, expired));
      return;
    }
    const out = Buffer.allocUnsafe(MAX_CONTROL_FRAME);
    const length = table.takeTransmit(this._native, out);
    if (length > 0) this._send(written(out, length), 'SESSION KEEP ALIVE');
    this._armTimer();
  },
};

module.exports = { methods, closing, CLOSE_TIMEOUT };
