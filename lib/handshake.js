'use strict';
// The session handshake as JS sees it; the core decides every step. Called
// side: a SESSION REQUEST handed to attach()'s callback as a SessionRequest,
// and sending the answer the core makes of accept, reject or retarget.
// Caller side: the core's fallback or retarget ('fallback', 'retarget', the
// next dial). Both: emitting 'connect' once the core says established.

const process = require('process');
const net = require('net');
const { performance } = require('perf_hooks');

const { table } = require('./native');
const { unpackNames } = require('./name');
const { codes, netbiosError } = require('./errors');
const { TRACING, HEADER_LENGTH, State, SENT, NO_BACKLOG } = require('./constants');
const { outOfRange } = require('./options');
const { onEstablished, pumpAgain } = require('./delivery');
const { ipv4 } = require('./connecting');

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
  /** A SESSION REQUEST arrived (the state is AWAITING_DECISION). */
  _onRequest() {
    const callback = this._callback;
    this._callback = null;
    if (callback === null) {
      // Nobody sees the request: the core answers it without its names.
      this._state = table.answerUnheard(this._native, this._settings.autoAccept, performance.now());
      this._afterAnswer();
      return;
    }
    this._armTimer();
    const [callTo, callFrom] = unpackNames(table.takeNames(this._native));
    callback(null, new SessionRequest(this, callTo, callFrom));
  },

  _answerable() {
    return this._state === State.AWAITING_DECISION && !this._terminated;
  },

  _accept() {
    if (!this._answerable()) return;
    this._state = table.accept(this._native, performance.now());
    this._afterAnswer();
  },

  /** `reason`: RFC 1002's text or code for the refusal; the core picks the code. */
  _reject(reason) {
    if (!this._answerable()) return;
    const given = typeof reason === 'string' || typeof reason === 'number' ? reason : undefined;
    this._state = table.reject(this._native, given, performance.now());
    this._afterAnswer();
  },

  _retargetTo(host, port) {
    if (!this._answerable()) return;
    this._state = table.retarget(this._native, host, port, performance.now());
    this._afterAnswer();
  },

  /** Sends the answer the core queued: established, or closing once it is flushed. */
  _afterAnswer() {
    if (this._state === State.ESTABLISHED) {
      this._sendQueued(SENT.POSITIVE);
      this._establish();
      return;
    }
    const answer = this._takeQueued();
    if (TRACING && answer !== null) this._trace('send', SENT.CLOSING_ANSWER, answer.length - HEADER_LENGTH);
    // Whatever the caller pipelined behind its request goes with the
    // connection: the socket reads again (the core drops it) so that the
    // peer's close is seen, and a peer that never closes is cut off at the
    // core's close deadline.
    this._backlog = NO_BACKLOG;
    this._updateFlow();
    if (answer === null) this._socket.end();
    else this._socket.end(answer);
    // The session reads and sends nothing more: only the close deadline the
    // core set is left. It waits in `closing`, and the native state goes now.
    this._armTimer();
    this._releaseNative();
  },

  /**
   * Emits 'connect' (and the callback) for a session the core established,
   * asynchronously: once the chunk being delivered is done when the answer
   * came in it (or was given by an attach() callback it ran), else on the
   * next tick. Never from inside the call that established it.
   */
  _establish() {
    this._connectPending = true;
    this._armTimer();
    // The callback stays pending until then: a session that fails first
    // reports that to it.
    if (this._pumping) this._establishAfterPump = true;
    else process.nextTick(onEstablished, this);
  },

  _onEstablished() {
    const state = this._state;
    if ((state !== State.ESTABLISHED && state !== State.ENDING) || this._terminated) {
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

  /** The core moves on to a fallback name after a refusal: 'fallback', then the new connection. */
  _onFallback() {
    const [name] = unpackNames(table.takeNames(this._native));
    this._emit('fallback', name);
    if (!this._terminated) this._redial();
  },

  /** The core follows a retarget: 'retarget', then the new connection. */
  _onRetarget(address, port) {
    this._emit('retarget', { host: ipv4(address), port });
    if (!this._terminated) this._redial();
  },
};

module.exports = { methods, SessionRequest };
