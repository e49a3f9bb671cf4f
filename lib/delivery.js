'use strict';
// Receiving: each chunk goes to the core, and the events it decodes become
// 'message' events in order, held in a backlog while the session is paused
// or waits for 'connect' or an answer. Also the socket's flow (TCP pushes
// back while delivery is held) and the peer's end of stream.

// Bound, not read through the global: see session.js.
const { Buffer } = require('buffer');
const process = require('process');
const net = require('net');
const { performance } = require('perf_hooks');

const native = require('./native');
const { codes, netbiosError } = require('./errors');
const { TRACING, State, FRAMES, NO_BACKLOG } = require('./constants');
const { toBuffer, flushBatchSoon } = require('./writing');

const { table, events: kinds, PREFIX, EVENT_WORDS } = native;
const { MESSAGE, MESSAGE_FIRST, MESSAGE_MORE, MESSAGE_LAST, KEEP_ALIVE, REQUEST, ESTABLISHED, FALLBACK, RETARGET, FAILED } = kinds;


// Events array shared by all sessions: decoding a chunk allocates nothing.
// A handler can make another session decode synchronously (in-memory pairs),
// so a nested decode while it is in use gets an array of its own.
const EVENT_CAPACITY = 256;
const sharedEvents = new Uint32Array(PREFIX + EVENT_CAPACITY * EVENT_WORDS);
let sharedEventsBusy = false;

function acquireEvents() {
  if (sharedEventsBusy) return new Uint32Array(sharedEvents.length);
  sharedEventsBusy = true;
  return sharedEvents;
}

function releaseEvents(events) {
  if (events === sharedEvents) sharedEventsBusy = false;
}

function onEstablished(session) {
  session._onEstablished();
}

function pumpAgain(session) {
  if (!session._terminated) session._pump();
}

const methods = {
  _onData(chunk) {
    if (this._native === null) return;
    let buffer = toBuffer(chunk);
    if (buffer === null || buffer.length === 0) return;
    // The core reads a chunk while JS waits; memory another thread may
    // write meanwhile (a SharedArrayBuffer) is copied first (src/fast.rs).
    if (buffer.buffer instanceof SharedArrayBuffer) buffer = Buffer.from(buffer);
    const item = { chunk: buffer, offset: 0, events: null, index: 0, epoch: this._epoch };
    if (this._backlog === NO_BACKLOG) this._backlog = [item];
    else this._backlog.push(item);
    this._pump();
  },

  _onEnd() {
    // The core hears of the end once it has read everything before it, or
    // at once while it reads nothing (a request awaiting its answer).
    if (this._backlog.length > 0 && this._state !== State.AWAITING_DECISION) {
      this._endPending = true;
      return;
    }
    this._finishEnd();
  },

  /** The peer ended its stream and everything before the end was delivered. */
  _finishEnd() {
    if (this._terminated) return;
    // The core says what the end means: a failure before establishment or
    // inside a frame, else the peer's orderly end.
    if (this._native !== null) this._state = table.endOfInput(this._native);
    if (this._state === State.FAILED) {
      this._failFromCore();
      return;
    }
    this._emit('end');
    this._closeAfterPeerEnd();
  },

  /**
   * The peer ended an established session, and the socket takes no more
   * writes (a TCP socket that is not half-open). Node would end it on the
   * next tick and send the FIN a loop turn later; closing it now sends the
   * FIN at once, and the peer, often already dialing its next session, is
   * not woken for it later. Only when nothing waits to be written, and only
   * for plain TCP: a TLS socket owes its peer a close_notify, and any other
   * stream the orderly end() it would get.
   */
  _closeAfterPeerEnd() {
    const socket = this._socket;
    const state = this._state;
    if ((state !== State.ESTABLISHED && state !== State.ENDING) || this._terminated || socket === null || socket.destroyed) return;
    if (!(socket instanceof net.Socket) || socket.encrypted || socket.allowHalfOpen !== false) return;
    if ((this._writer !== null && this._writer.batch !== null) || socket.writableLength > 0) return;
    socket.destroy();
  },

  /** Pauses the socket while delivery is held, so TCP pushes back on the peer. */
  _updateFlow() {
    const socket = this._socket;
    if (socket === null || this._terminated) return;
    // Held data or a user pause stop reading; the tick until 'connect' is
    // emitted does not (pausing costs a readStop/readStart pair per session).
    const state = this._state;
    const paused = this._paused && (state === State.ESTABLISHED || state === State.ENDING);
    if (paused || this._backlog.length > 0) {
      if (!socket.isPaused()) socket.pause();
    } else if (socket.isPaused()) {
      socket.resume();
    }
  },

  /**
   * Delivery is held while the user paused an established session, until
   * 'connect' and the callback have run, and while a request awaits its
   * answer (the core reads what was pipelined behind it only once accepted).
   */
  _holding() {
    const state = this._state;
    const reading = state === State.ESTABLISHED || state === State.ENDING;
    return (reading && (this._paused || this._connectPending)) || state === State.AWAITING_DECISION;
  },

  /**
   * Decodes and delivers backlog items in order until it is empty or
   * delivery must wait. Re-entrant calls (a handler that resumes, or data
   * arriving synchronously from an in-memory peer) only queue.
   */
  _pump() {
    if (this._pumping) return;
    this._pumping = true;
    let completed = false;
    try {
      try {
        this._deliverBacklog();
      } finally {
        this._pumping = false;
      }
      const writer = this._writer;
      if (writer !== null && writer.flushAfterPump) {
        writer.flushAfterPump = false;
        flushBatchSoon(this);
      }
      const drained = this._backlog.length === 0;
      // An idle session keeps no array of its own.
      if (drained) this._backlog = NO_BACKLOG;
      if (drained && this._endPending) {
        this._endPending = false;
        this._finishEnd();
      }
      if (drained && this._closePending) {
        this._closePending = false;
        this._terminate(null, false);
      }
      this._updateFlow();
      completed = true;
    } finally {
      // A handler threw: what waited for the end of delivery goes on the
      // next tick instead, as it would have outside delivery.
      if (!completed) this._afterPumpLater();
    }
    // Last, so that a throwing 'connect' listener finds the session consistent.
    if (this._establishAfterPump) {
      this._establishAfterPump = false;
      this._onEstablished();
    }
  },

  /** _pump's loop: decodes and delivers backlog items until it is empty or delivery must wait. */
  _deliverBacklog() {
    // Teardown swaps in NO_BACKLOG, so the backlog is read afresh each turn.
    while (this._backlog.length > 0) {
      const backlog = this._backlog;
      if (this._native === null) {
        this._backlog = NO_BACKLOG;
        break;
      }
      const item = backlog[0];
      // Stale items (a previous connection's) and spent ones go even while
      // delivery is held: a spent chunk left here until 'connect' would
      // pause and resume the socket once per session setup.
      if (item.epoch !== this._epoch || (item.events === null && item.offset >= item.chunk.length)) {
        backlog.shift();
        continue;
      }
      if (this._holding()) break;
      if (item.events !== null) {
        const stop = this._deliver(item, item.events, item.index, item.events.length);
        if (stop >= 0) {
          item.index = stop;
          continue;
        }
        item.events = null;
        continue;
      }
      const events = acquireEvents();
      try {
        const count = table.feed(this._native, item.chunk, item.offset, events, performance.now());
        // The core always moves forward; guard against a stuck loop anyway.
        item.offset = count === 0 ? item.chunk.length : events[0];
        const end = PREFIX + count * EVENT_WORDS;
        const stop = this._deliver(item, events, PREFIX, end);
        if (stop >= 0) {
          item.events = events.slice(stop, end);
          item.index = 0;
        }
      } finally {
        releaseEvents(events);
      }
    }
  },

  /**
   * Delivery ended in an exception: the flush and the 'connect' that
   * waited for its end move to the next tick, and so does the rest of the
   * delivery (held messages, then a pending 'end' or 'close').
   */
  _afterPumpLater() {
    const writer = this._writer;
    if (writer !== null && writer.flushAfterPump) {
      writer.flushAfterPump = false;
      process.nextTick(flushBatchSoon, this);
    }
    if (this._establishAfterPump) {
      this._establishAfterPump = false;
      process.nextTick(onEstablished, this);
    }
    process.nextTick(pumpAgain, this);
  },

  /** Handles events[start..end) of `item`; returns where it stopped, or -1 when all were handled. */
  _deliver(item, events, start, end) {
    for (let at = start; at < end; at += EVENT_WORDS) {
      if (this._native === null || item.epoch !== this._epoch) return -1;
      if (this._holding()) return at;
      try {
        this._handleEvent(item.chunk, events[at], events[at + 1], events[at + 2]);
      } catch (error) {
        // A throwing handler: the events after this one wait in the item,
        // delivered once (see _afterPumpLater), neither lost nor repeated.
        const rest = at + EVENT_WORDS;
        if (events === item.events) {
          item.index = rest;
        } else if (rest < end) {
          item.events = events.slice(rest, end);
          item.index = 0;
        }
        throw error;
      }
    }
    return -1;
  },

  /** One event the core decoded; the state changes it implies are the core's. */
  _handleEvent(chunk, kind, a, b) {
    switch (kind) {
      case MESSAGE:
        if (TRACING) this._trace('recv', FRAMES[MESSAGE], b - a);
        this.emit('message', chunk.subarray(a, b));
        return;
      case MESSAGE_FIRST:
        this._parts = [chunk.subarray(a, b)];
        return;
      case MESSAGE_MORE:
        this._parts.push(chunk.subarray(a, b));
        return;
      case MESSAGE_LAST: {
        this._parts.push(chunk.subarray(a, b));
        const message = Buffer.concat(this._parts);
        this._parts = null;
        if (TRACING) this._trace('recv', FRAMES[MESSAGE], message.length);
        this.emit('message', message);
        return;
      }
      default:
    }
    if (TRACING && kind !== FAILED) this._trace('recv', FRAMES[kind], 0);
    switch (kind) {
      case KEEP_ALIVE:
        return;
      case REQUEST:
        this._state = State.AWAITING_DECISION;
        this._onRequest();
        return;
      case ESTABLISHED:
        this._state = State.ESTABLISHED;
        this._establish();
        return;
      case FALLBACK:
        this._state = State.DIALING;
        this._onFallback();
        return;
      case RETARGET:
        this._state = State.DIALING;
        this._onRetarget(a, b);
        return;
      case FAILED:
        this._state = State.FAILED;
        this._failFromCore();
        return;
      default:
        this._fail(netbiosError(codes.PROTOCOL, `netbios-session internal error: unknown event kind ${kind}`));
    }
  },
};

module.exports = { methods, onEstablished, pumpAgain };
