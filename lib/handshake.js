'use strict';
// The session handshake. Called side: a SESSION REQUEST handed to attach()'s
// callback as a SessionRequest, and its answer (accept, reject, retarget).
// Caller side: the answer to its request (positive, negative with fallback,
// retarget). Both: becoming established and emitting 'connect'.

// Bound, not read through the global: see session.js.
const { Buffer } = require('buffer');
const process = require('process');
const net = require('net');
const { performance } = require('perf_hooks');

const native = require('./native');
const { unpackNames } = require('./name');
const { codes, netbiosError } = require('./errors');
const { TRACING, HEADER_LENGTH, State, NO_BACKLOG, written } = require('./constants');
const { outOfRange } = require('./options');
const { onEstablished, pumpAgain } = require('./delivery');
const { closing, CLOSE_TIMEOUT } = require('./timers');

const { table, MAX_ANSWER_FRAME } = native;

const REASON_BY_CODE = new Map();
const CODE_BY_REASON = new Map();
for (const { code, reason } of native.negativeReasons()) {
  REASON_BY_CODE.set(code, reason);
  CODE_BY_REASON.set(reason, code);
}
const NOT_LISTENING_ON_CALLED_NAME = CODE_BY_REASON.get('Not listening on called name');
const UNSPECIFIED_ERROR = CODE_BY_REASON.get('Unspecified error');

function ipv4(address) {
  return `${address >>> 24}.${(address >>> 16) & 0xff}.${(address >>> 8) & 0xff}.${address & 0xff}`;
}

/** The object handed to attach()'s callback for each SESSION REQUEST. */
class SessionRequest {
  constructor(session, callTo, callFrom) {
    this.callTo = callTo;
    this.callFrom = callFrom;
    // Own properties, so they can be nulled once the request is answered.
    this.accept = () => {
      this._answered();
      session._accept();
    };
    this.reject = (reason) => {
      this._answered();
      session._reject(reason);
    };
    this.retarget = (host, port) => {
      // Checked before anything is sent or the request counts as answered.
      if (typeof host !== 'string' || !net.isIPv4(host)) {
        throw netbiosError(
          codes.INVALID_ARG_VALUE,
          `retarget host must be an IPv4 address in dotted-quad form, got ${JSON.stringify(host)}`,
          null,
          TypeError
        );
      }
      if (!Number.isInteger(port) || port < 1 || port > 65535) {
        throw outOfRange('retarget port', port, 'an integer from 1 to 65535');
      }
      this._answered();
      session._retargetTo(host, port);
    };
  }

  _answered() {
    this.accept = null;
    this.reject = null;
    this.retarget = null;
  }
}

const methods = {
  _onRequest() {
    this._state = State.AWAITING_DECISION;
    const callback = this._callback;
    this._callback = null;
    if (callback === null) {
      // Nobody sees the request: answer without decoding its names.
      if (this._autoAccept) this._accept();
      else this._reject(NOT_LISTENING_ON_CALLED_NAME);
      return;
    }
    this._armTimer();
    const [callTo, callFrom] = unpackNames(table.takeRequest(this._native));
    callback(null, new SessionRequest(this, callTo, callFrom));
  },

  _answerable() {
    return this._state === State.AWAITING_DECISION && !this._terminated;
  },

  // The binding answers -1 (and sends nothing) if the core has already
  // failed; it reads nothing behind a request until it is answered, so this
  // is only a guard.

  _accept() {
    if (!this._answerable()) return;
    const out = Buffer.allocUnsafe(MAX_ANSWER_FRAME);
    const length = table.accept(this._native, performance.now(), out);
    if (length < 0) return;
    this._send(written(out, length), 'POSITIVE SESSION RESPONSE');
    this._establish();
  },

  _reject(reason) {
    if (!this._answerable()) return;
    let code = CODE_BY_REASON.get(reason);
    if (code === undefined) code = REASON_BY_CODE.has(reason) ? reason : UNSPECIFIED_ERROR;
    const out = Buffer.allocUnsafe(MAX_ANSWER_FRAME);
    this._finishAnswer(out, table.reject(this._native, code, out), 'NEGATIVE SESSION RESPONSE');
  },

  _retargetTo(host, port) {
    if (!this._answerable()) return;
    const out = Buffer.allocUnsafe(MAX_ANSWER_FRAME);
    this._finishAnswer(out, table.retargetTo(this._native, host, port, out), 'RETARGET SESSION RESPONSE');
  },

  /** Sends a final answer (`length` bytes of `out`) and closes once it is flushed. */
  _finishAnswer(out, length, frame) {
    if (length < 0) return;
    if (TRACING) this._trace('send', frame, length - HEADER_LENGTH);
    this._state = State.CLOSED;
    this._releaseNative();
    // Whatever the caller pipelined behind its request goes with the
    // connection: the socket reads again (and drops it) so that the peer's
    // close is seen, and a peer that never closes is cut off.
    this._backlog = NO_BACKLOG;
    this._updateFlow();
    this._socket.end(written(out, length));
    // A session waits in one timer heap at a time (they share its slot).
    this._clearTimer();
    closing.schedule(this, performance.now() + CLOSE_TIMEOUT);
  },

  /**
   * Marks the session established and emits 'connect' (and the callback)
   * asynchronously: once the chunk being delivered is done when the answer
   * came in it (or was given by an attach() callback it ran), else on the
   * next tick. Never from inside the call that established it.
   */
  _establish() {
    this._state = State.ESTABLISHED;
    this._connectPending = true;
    this._armTimer();
    // The callback stays pending until then: a session that fails first
    // reports that to it.
    if (this._pumping) this._establishAfterPump = true;
    else process.nextTick(onEstablished, this);
  },

  _onEstablished() {
    if (this._state !== State.ESTABLISHED || this._terminated) {
      this._connectPending = false;
      return;
    }
    const callback = this._takePendingCallback();
    let step = 0;
    try {
      this._emit('connect');
      step = 1;
      if (callback) callback();
      step = 2;
    } finally {
      // Held until here, so that a resume() in a 'connect' listener does
      // not deliver messages ahead of the callback.
      this._connectPending = false;
      // A throwing 'connect' listener or callback: the callback (if it has
      // not run) and the data that came with the answer follow next tick.
      if (step < 2) {
        if (step === 0 && callback) process.nextTick(callback);
        process.nextTick(pumpAgain, this);
      }
    }
    // Data that came with the answer waited for 'connect'; a user pause takes hold now.
    if (this._backlog !== NO_BACKLOG) this._pump();
    else if (this._paused) this._updateFlow();
  },

  _onNegative(code) {
    const fallback = table.negative(this._native, code);
    if (fallback !== null) {
      this._emit('fallback', unpackNames(fallback)[0]);
      if (!this._terminated) this._redial(this._target.host, this._target.port);
      return;
    }
    const reason = REASON_BY_CODE.get(code) || 'unknown error';
    const error = netbiosError(codes.REJECTED, `Connection failed with response code [${reason}]`, {
      errorCode: code,
      reason,
    });
    this._fail(error);
  },

  _onRetarget(address, port) {
    const host = ipv4(address);
    const loop = table.retarget(this._native, address, port);
    if (loop !== null) {
      this._fail(netbiosError(codes.RETARGET_LOOP, loop, { host, port }));
      return;
    }
    this._emit('retarget', { host, port });
    if (!this._terminated) this._redial(host, port);
  },
};

module.exports = { methods, SessionRequest };
