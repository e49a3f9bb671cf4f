'use strict';
// How a session ends and reports it: failing on a network error, the one
// teardown path (_terminate), the error report and then 'close', emitting
// only until 'close', errors from method calls, and freeing the core's state.

// Bound, not read through the global: see session.js.
const process = require('process');
const { EventEmitter } = require('events');

const { table } = require('./native');
const { codes, netbiosError, sessionError } = require('./errors');
const { State, NO_BACKLOG } = require('./constants');
const { kSession } = require('./connecting');
const { SENT_TOO_LATE } = require('./writing');

function reportEnd(session, callback, error, quiet) {
  session._reportEnd(callback, error, quiet);
}

const methods = {
  _takePendingCallback() {
    const callback = this._callback;
    this._callback = null;
    return callback;
  },

  /**
   * Ends the session on an error that came from the network (the peer's
   * protocol error, a deadline, a reset): reported at once. A session that
   * attach() took over, with no 'error' listener, only keeps it as
   * `errored`: a bad client must not take down a server (see README Errors).
   */
  _fail(error) {
    if (this._terminated) return;
    this.errored = error;
    this._terminate(error, false, this._attached && this.listenerCount('error') === 0);
  },

  /** The core reported that the session failed: it says why. */
  _failFromCore() {
    this._fail(sessionError(table.takeError(this._native)));
  },

  /**
   * The one way a session ends: stops timers, frees the core, destroys the
   * socket, reports `error` (to a pending callback, else 'error' unless
   * `quiet`) and emits 'close' last, once the socket has closed. A callback
   * still pending without an error gets one saying the session ended first.
   */
  _terminate(error, async, quiet = false) {
    if (this._terminated) return;
    this._terminated = true;
    // A quiet end (end(), destroy() without an error) is no failure.
    if (error && !quiet) this.errored = error;
    const callback = this._takePendingCallback();
    this._state = State.CLOSED;
    this._clearTimer();
    this._releaseNative();
    this._backlog = NO_BACKLOG;
    if (this._writer !== null && this._writer.batch !== null) {
      this._dropBatch(error || netbiosError(codes.NOT_CONNECTED, SENT_TOO_LATE));
    }
    const socket = this._socket;
    if (socket !== null && !socket.destroyed) socket.destroy();
    if (async) process.nextTick(reportEnd, this, callback, error, quiet);
    else this._reportEnd(callback, error, quiet);
  },

  /** The second half of _terminate: tells a pending callback or 'error' why, then 'close' may follow. */
  _reportEnd(callback, error, quiet) {
    if (callback) {
      callback(error || netbiosError(codes.NOT_CONNECTED, 'Connection closed before the session was established'));
    } else if (error && !quiet) {
      this._emit('error', error);
    } else if (error && error === this.errored) {
      // A network error kept quiet (see _fail) still reaches error monitors.
      this.emit(EventEmitter.errorMonitor, error);
    }
    this._reported = true;
    this._maybeEmitClose();
  },

  /** 'close' comes once, after the error report and after the socket closed. */
  _maybeEmitClose() {
    if (this._closeEmitted || !this._reported) return;
    if (this._socket !== null && !this._socketClosed) return;
    this._closeEmitted = true;
    if (this._socket !== null) this._socket[kSession] = undefined;
    this.emit('close');
  },

  /** Emits unless 'close' has been emitted: nothing follows 'close'. */
  _emit(event, arg) {
    if (this._closeEmitted) return false;
    // No rest parameter: an array per emit. Listeners get no argument when none was given.
    return arguments.length === 1 ? this.emit(event) : this.emit(event, arg);
  },

  _alreadyActive(method, callback) {
    const error = netbiosError(codes.ALREADY_ACTIVE, `Cannot ${method} Session already active.`);
    this._reportLater(error, callback);
    return this;
  },

  /** Reports an error from a method call: asynchronously, to the callback or 'error'. */
  _reportLater(error, callback) {
    process.nextTick(() => {
      if (callback) callback(error);
      else this._emit('error', error);
    });
  },

  /** Frees the session's native state: nothing else ever would. */
  _releaseNative() {
    if (this._native !== null) {
      table.close(this._native);
      this._native = null;
    }
    this._parts = null;
  },
};

module.exports = { methods };
