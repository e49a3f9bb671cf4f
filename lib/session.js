'use strict';
// NetbiosSession: moves bytes between a Node duplex stream and the Rust core
// and turns the core's events into EventEmitter events. The protocol itself
// (framing, names, which packet is legal when) is decided in the core.

const { EventEmitter } = require('events');
const net = require('net');

const native = require('./native');
const { NetbiosName, toName, fromWire } = require('./name');
const { codes, netbiosError } = require('./errors');

const MAX_MESSAGE_LENGTH = 131071;
const MAX_WIDE_MESSAGE_LENGTH = 16777215;
const DEFAULT_PORT = 139;
const HEADER_LENGTH = 4;
// Messages up to this size are copied behind their header and written once;
// larger ones go out as a corked header + payload pair (one writev, no copy).
const COPY_LIMIT = 16 * 1024;

const REASON_BY_CODE = new Map();
const CODE_BY_REASON = new Map();
for (const { code, reason } of native.negativeReasons()) {
  REASON_BY_CODE.set(code, reason);
  CODE_BY_REASON.set(reason, code);
}
const NOT_LISTENING_ON_CALLED_NAME = CODE_BY_REASON.get('Not listening on called name');
const UNSPECIFIED_ERROR = CODE_BY_REASON.get('Unspecified error');

const State = Object.freeze({
  IDLE: 'idle',
  CONNECTING: 'connecting', // caller: TCP connect under way
  AWAITING_RESPONSE: 'awaiting-response', // caller: request sent
  AWAITING_REQUEST: 'awaiting-request', // called: attached, no request yet
  AWAITING_DECISION: 'awaiting-decision', // called: request handed to the user
  ESTABLISHED: 'established',
  CLOSED: 'closed',
});

// Events array shared by all sessions: decoding a chunk allocates nothing.
// A handler can make another session decode synchronously (in-memory pairs),
// so a nested decode while it is in use gets an array of its own.
const EVENT_CAPACITY = 256;
const sharedEvents = new Uint32Array(native.PREFIX + EVENT_CAPACITY * native.EVENT_WORDS);
let sharedEventsBusy = false;

function acquireEvents() {
  if (sharedEventsBusy) return new Uint32Array(sharedEvents.length);
  sharedEventsBusy = true;
  return sharedEvents;
}

function releaseEvents(events) {
  if (events === sharedEvents) sharedEventsBusy = false;
}

function checkOptions(options) {
  if (options == null) return {};
  if (typeof options !== 'object') {
    throw netbiosError(codes.INVALID_ARG_TYPE, `options must be an object, got ${typeof options}`, null, TypeError);
  }
  return options;
}

function resolveMaxMessageLength(options, direct) {
  const value = options.maxMessageLength;
  if (value == null) return direct ? MAX_WIDE_MESSAGE_LENGTH : MAX_MESSAGE_LENGTH;
  if (!Number.isInteger(value) || value < 0 || value > MAX_WIDE_MESSAGE_LENGTH) {
    throw netbiosError(
      codes.OUT_OF_RANGE,
      `maxMessageLength must be an integer from 0 to ${MAX_WIDE_MESSAGE_LENGTH}, got ${String(value)}`,
      null,
      RangeError
    );
  }
  return value;
}

function toBuffer(chunk) {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (typeof chunk === 'string') return Buffer.from(chunk);
  if (ArrayBuffer.isView(chunk)) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  return null;
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
  }

  _answered() {
    this.accept = null;
    this.reject = null;
  }
}

class NetbiosSession extends EventEmitter {
  /**
   * @param {object} [options]
   * @param {boolean} [options.autoAccept=false] accept requests when attach() has no callback
   * @param {boolean} [options.direct=false] SMB direct TCP: no handshake, 24-bit lengths
   * @param {boolean} [options.paused=false] start paused
   * @param {boolean} [options.legacyLengthBit=false] speak 0.1.6's 0x80 length bit
   * @param {number} [options.maxMessageLength] largest message accepted or sent
   * @param {boolean} [options.noDelay=true] set TCP_NODELAY on the socket
   */
  constructor(options) {
    super();
    options = checkOptions(options);
    const direct = !!options.direct;
    const legacyLengthBit = !!options.legacyLengthBit;
    const max = resolveMaxMessageLength(options, direct);
    try {
      native.checkConfig(direct, legacyLengthBit, max);
    } catch (cause) {
      throw netbiosError(codes.INVALID_ARG_VALUE, cause.message, null, TypeError);
    }
    this.MAX_MESSAGE_LENGTH = max;
    this._autoAccept = !!options.autoAccept;
    this._direct = direct;
    this._legacyLengthBit = legacyLengthBit;
    this._noDelay = options.noDelay !== false;
    this._paused = !!options.paused;
    this._state = State.IDLE;
    this._native = null;
    this._socket = null;
    this._attachCallback = null;
    this._connectCallback = null;
    this._ended = false;
    this._closeEmitted = false;
    // Received data not yet delivered: {chunk, offset, events, index} items,
    // in arrival order. Used only while paused or inside a delivery.
    this._backlog = [];
    this._pumping = false;
    this._connectPending = false;
    this._endPending = false;
    this._closePending = false;
    this._parts = null;
    this._partsLength = 0;
    this._onData = this._onData.bind(this);
    this._onEnd = this._onEnd.bind(this);
    this._onSocketError = this._onSocketError.bind(this);
    this._onClose = this._onClose.bind(this);
    this._onDrain = this._onDrain.bind(this);
  }

  /**
   * Takes over a connected duplex stream. In handshake mode, waits for a
   * SESSION REQUEST and calls `callback(null, request)`; without a callback
   * the request is accepted if `autoAccept` is set, else rejected (0x80).
   * In direct mode the session is established at once.
   */
  attach(socket, callback) {
    callback = typeof callback === 'function' ? callback : null;
    if (this._state !== State.IDLE) return this._alreadyActive('attach', callback);
    if (!isDuplex(socket)) {
      const error = netbiosError(
        codes.INVALID_ARG_TYPE,
        'attach() needs a connected duplex stream (such as a net.Socket)',
        null,
        TypeError
      );
      this._reportLater(error, callback);
      return this;
    }
    this._attachCallback = callback;
    this._native = new native.NativeSession(this._direct ? 'direct' : 'called', this._legacyLengthBit, this.MAX_MESSAGE_LENGTH);
    this._bindSocket(socket);
    if (this._direct) {
      this._establish();
    } else {
      this._state = State.AWAITING_REQUEST;
    }
    this._updateFlow();
    return this;
  }

  /**
   * Opens TCP to `host:port` (139 when port is not a number) and asks for a
   * session with `callTo` from `callFrom`. `callback(error)` runs once the
   * session is established or has failed. In direct mode names are not used
   * and `connect(port, host, callback)` is accepted.
   */
  connect(port, host, callTo, callFrom, callback) {
    if (this._direct && typeof callTo === 'function') callback = callTo;
    callback = typeof callback === 'function' ? callback : null;
    if (this._state !== State.IDLE) return this._alreadyActive('connect', callback);
    if (typeof port !== 'number') port = DEFAULT_PORT;
    let request = null;
    try {
      if (!this._direct) {
        const to = toName(callTo, 0x20, 'callTo');
        const from = toName(callFrom, 0x00, 'callFrom');
        this._native = new native.NativeSession('caller', this._legacyLengthBit, this.MAX_MESSAGE_LENGTH);
        request = this._native.request(nameParts(to), nameParts(from));
      } else {
        this._native = new native.NativeSession('direct', false, this.MAX_MESSAGE_LENGTH);
      }
    } catch (error) {
      this._releaseNative();
      if (!error.code) error.code = codes.INVALID_ARG_VALUE;
      this._reportLater(error, callback);
      return this;
    }
    let socket;
    try {
      socket = net.connect({ port, host });
    } catch (error) {
      // Bad port or host arguments throw synchronously in net.connect.
      this._releaseNative();
      this._reportLater(error, callback);
      return this;
    }
    this._connectCallback = callback;
    this._state = State.CONNECTING;
    this._bindSocket(socket);
    socket.once('connect', () => {
      if (this._state !== State.CONNECTING) return;
      if (this._direct) {
        this._establish();
      } else {
        this._state = State.AWAITING_RESPONSE;
        socket.write(request);
      }
    });
    return this;
  }

  /**
   * Sends `message` as one SESSION MESSAGE. Returns false when the caller
   * should wait for 'drain'. `callback(error)` runs once it is written out.
   */
  write(message, callback) {
    callback = typeof callback === 'function' ? callback : null;
    if (this._state !== State.ESTABLISHED || this._ended) {
      const why = this._ended ? 'the session has been ended' : 'the session is not established';
      this._reportLater(netbiosError(codes.NOT_CONNECTED, `Cannot write: ${why}`), callback);
      return false;
    }
    const payload = toBuffer(message);
    if (payload === null) {
      const error = netbiosError(
        codes.INVALID_ARG_TYPE,
        `write() needs a Buffer, Uint8Array or string, got ${message === null ? 'null' : typeof message}`,
        null,
        TypeError
      );
      this._reportLater(error, callback);
      return false;
    }
    const length = payload.length;
    const socket = this._socket;
    if (length <= COPY_LIMIT) {
      const frame = Buffer.allocUnsafe(HEADER_LENGTH + length);
      const problem = this._native.messageHeader(length, frame, 0);
      if (problem !== null) return this._writeFailed(problem, length, callback);
      payload.copy(frame, HEADER_LENGTH);
      return socket.write(frame, callback || undefined);
    }
    const header = Buffer.allocUnsafe(HEADER_LENGTH);
    const problem = this._native.messageHeader(length, header, 0);
    if (problem !== null) return this._writeFailed(problem, length, callback);
    socket.cork();
    socket.write(header);
    const flushed = socket.write(payload, callback || undefined);
    socket.uncork();
    return flushed;
  }

  /** Stops 'message' events and reading from the socket (TCP pushes back). */
  pause() {
    this._paused = true;
    this._updateFlow();
    return this;
  }

  /** Delivers held messages in order, then reads again. */
  resume() {
    this._paused = false;
    this._pump();
    return this;
  }

  /** Ends the session: FIN after pending writes. Safe to call more than once. */
  end() {
    if (this._ended) return this;
    this._ended = true;
    if (this._state !== State.ESTABLISHED && this._state !== State.CLOSED) {
      const error = netbiosError(codes.NOT_CONNECTED, 'The session was ended before it was established');
      const callback = this._takePendingCallback();
      this._state = State.CLOSED;
      this._releaseNative();
      if (callback) process.nextTick(callback, error);
    }
    if (this._socket) this._socket.end();
    return this;
  }

  // ---- socket plumbing -------------------------------------------------

  _bindSocket(socket) {
    this._socket = socket;
    if (this._noDelay && typeof socket.setNoDelay === 'function') socket.setNoDelay(true);
    socket.on('data', this._onData);
    socket.on('end', this._onEnd);
    socket.on('error', this._onSocketError);
    socket.on('close', this._onClose);
    socket.on('drain', this._onDrain);
  }

  _onData(chunk) {
    if (this._native === null) return;
    const buffer = toBuffer(chunk);
    if (buffer === null || buffer.length === 0) return;
    this._backlog.push({ chunk: buffer, offset: 0, events: null, index: 0 });
    this._pump();
  }

  /** Delivery is held while the user paused an established session, or until 'connect' has been emitted. */
  _holding() {
    return this._state === State.ESTABLISHED && (this._paused || this._connectPending);
  }

  /**
   * Decodes and delivers backlog items in order until it is empty or
   * delivery must wait. Re-entrant calls (a handler that resumes, or data
   * arriving synchronously from an in-memory peer) only queue.
   */
  _pump() {
    if (this._pumping) return;
    this._pumping = true;
    const backlog = this._backlog;
    try {
      while (backlog.length > 0) {
        if (this._native === null) {
          backlog.length = 0;
          break;
        }
        if (this._holding()) break;
        const item = backlog[0];
        if (item.events !== null) {
          const stop = this._deliver(item.chunk, item.events, item.index, item.events.length);
          if (stop >= 0) {
            item.index = stop;
            continue;
          }
          item.events = null;
        }
        if (item.offset >= item.chunk.length) {
          backlog.shift();
          continue;
        }
        const events = acquireEvents();
        try {
          const count = this._native.feed(item.chunk, item.offset, events);
          // The core always moves forward; guard against a stuck loop anyway.
          item.offset = count === 0 ? item.chunk.length : events[0];
          const end = native.PREFIX + count * native.EVENT_WORDS;
          const stop = this._deliver(item.chunk, events, native.PREFIX, end);
          if (stop >= 0) {
            item.events = events.slice(stop, end);
            item.index = 0;
          }
        } finally {
          releaseEvents(events);
        }
      }
    } finally {
      this._pumping = false;
    }
    if (backlog.length === 0 && this._endPending) {
      this._endPending = false;
      this._finishEnd();
    }
    if (backlog.length === 0 && this._closePending) {
      this._closePending = false;
      this._finishClose();
    }
    this._updateFlow();
  }

  /** Handles events[start..end); returns where it stopped, or -1 when all were handled. */
  _deliver(chunk, events, start, end) {
    for (let at = start; at < end; at += native.EVENT_WORDS) {
      if (this._native === null) return -1;
      if (this._holding()) return at;
      this._handleEvent(chunk, events[at], events[at + 1], events[at + 2]);
    }
    return -1;
  }

  _handleEvent(chunk, kind, a, b) {
    switch (kind) {
      case native.MESSAGE:
        this.emit('message', chunk.subarray(a, b));
        break;
      case native.MESSAGE_FIRST:
        this._parts = [chunk.subarray(a, b)];
        this._partsLength = b - a;
        break;
      case native.MESSAGE_MORE:
        this._parts.push(chunk.subarray(a, b));
        this._partsLength += b - a;
        break;
      case native.MESSAGE_LAST: {
        this._parts.push(chunk.subarray(a, b));
        const message = Buffer.concat(this._parts, this._partsLength + (b - a));
        this._parts = null;
        this._partsLength = 0;
        this.emit('message', message);
        break;
      }
      case native.KEEP_ALIVE:
        break;
      case native.REQUEST:
        this._onRequest(this._native.takeRequest());
        break;
      case native.POSITIVE:
        this._onPositive();
        break;
      case native.NEGATIVE:
        this._onNegative(a);
        break;
      case native.RETARGET:
        this._onRetarget(a, b);
        break;
      case native.PROTOCOL_ERROR:
        this._fail(netbiosError(codes.PROTOCOL, this._native.takeError()));
        break;
      default:
        this._fail(netbiosError(codes.PROTOCOL, `internal error: unknown event kind ${kind}`));
    }
  }

  _onEnd() {
    if (this._backlog.length > 0) {
      this._endPending = true;
      return;
    }
    this._finishEnd();
  }

  /** The peer ended its stream and everything before the end was delivered. */
  _finishEnd() {
    if (this._native !== null) {
      const truncated = this._native.endOfInput();
      if (truncated !== null) {
        this._fail(netbiosError(codes.PROTOCOL, truncated));
        return;
      }
    }
    switch (this._state) {
      case State.CONNECTING:
      case State.AWAITING_RESPONSE:
        this._fail(netbiosError(codes.PROTOCOL, 'Connection ended by the peer before the session response arrived'));
        return;
      case State.AWAITING_REQUEST:
        this._fail(netbiosError(codes.PROTOCOL, 'Connection ended by the peer before a SESSION REQUEST arrived'));
        return;
      default:
        this.emit('end');
    }
  }

  _onSocketError(error) {
    if (this._state === State.CLOSED && this._native === null) return;
    this._fail(error);
  }

  _onClose() {
    // Messages that arrived before the close but are held (paused) are still
    // delivered; 'close' follows them.
    if (this._backlog.length > 0 && this._native !== null && this._state === State.ESTABLISHED) {
      this._closePending = true;
      return;
    }
    this._finishClose();
  }

  _finishClose() {
    const callback = this._takePendingCallback();
    this._state = State.CLOSED;
    this._releaseNative();
    this._backlog.length = 0;
    if (callback) {
      callback(netbiosError(codes.PROTOCOL, 'Connection closed before the session was established'));
    }
    if (!this._closeEmitted) {
      this._closeEmitted = true;
      this.emit('close');
    }
  }

  _onDrain() {
    this.emit('drain');
  }

  /** Pauses the socket while delivery is held, so TCP pushes back on the peer. */
  _updateFlow() {
    const socket = this._socket;
    if (socket === null || this._state === State.CLOSED) return;
    if (this._holding() || this._backlog.length > 0) {
      if (!socket.isPaused()) socket.pause();
    } else if (socket.isPaused()) {
      socket.resume();
    }
  }

  // ---- handshake -----------------------------------------------------

  _onRequest(names) {
    this._state = State.AWAITING_DECISION;
    const request = new SessionRequest(this, fromWire(names.called), fromWire(names.calling));
    const callback = this._attachCallback;
    this._attachCallback = null;
    if (callback) {
      callback(null, request);
    } else if (this._autoAccept) {
      request.accept();
    } else {
      request.reject(NOT_LISTENING_ON_CALLED_NAME);
    }
  }

  // If the core already failed on bytes pipelined behind the request, the
  // answer is dropped: the protocol error queued behind the request follows.
  _accept() {
    if (this._state !== State.AWAITING_DECISION || this._native.failed) return;
    this._socket.write(this._native.accept());
    this._establish();
  }

  _reject(reason) {
    if (this._state !== State.AWAITING_DECISION || this._native.failed) return;
    let code = CODE_BY_REASON.get(reason);
    if (code === undefined) code = REASON_BY_CODE.has(reason) ? reason : UNSPECIFIED_ERROR;
    const response = this._native.reject(code);
    this._state = State.CLOSED;
    this._releaseNative();
    this._socket.end(response);
  }

  /** Marks the session established and emits 'connect' (and the callback) asynchronously. */
  _establish() {
    this._state = State.ESTABLISHED;
    this._connectPending = true;
    const callback = this._takePendingCallback();
    process.nextTick(() => {
      this._connectPending = false;
      if (this._state !== State.ESTABLISHED) return;
      this.emit('connect');
      if (callback) callback();
      this._pump();
    });
  }

  _onPositive() {
    this._establish();
  }

  _onNegative(code) {
    const reason = REASON_BY_CODE.get(code) || 'unknown error';
    const error = netbiosError(codes.REJECTED, `Connection failed with response code [${reason}]`, {
      errorCode: code,
      reason,
    });
    this._fail(error);
  }

  _onRetarget(address, port) {
    const host = [address >>> 24, (address >>> 16) & 0xff, (address >>> 8) & 0xff, address & 0xff].join('.');
    const error = netbiosError(
      codes.RETARGETED,
      `The called node retargeted the session to ${host}:${port}; following retargets is not supported yet`,
      { host, port }
    );
    this._fail(error);
  }

  // ---- errors and teardown -------------------------------------------

  _takePendingCallback() {
    const callback = this._connectCallback || this._attachCallback;
    this._connectCallback = null;
    this._attachCallback = null;
    return callback;
  }

  /** Ends the session on an error: to the pending callback if any, else 'error'. */
  _fail(error) {
    const callback = this._takePendingCallback();
    this._state = State.CLOSED;
    this._releaseNative();
    this._backlog.length = 0;
    if (this._socket) this._socket.destroy();
    if (callback) {
      callback(error);
    } else {
      this.emit('error', error);
    }
  }

  _writeFailed(problem, length, callback) {
    const code = length > this.MAX_MESSAGE_LENGTH ? codes.MESSAGE_TOO_LONG : codes.NOT_CONNECTED;
    const error = netbiosError(code, problem);
    // 0.1.6 both emitted 'error' and called back for an oversized message.
    process.nextTick(() => {
      if (code === codes.MESSAGE_TOO_LONG || !callback) this.emit('error', error);
      if (callback) callback(error);
    });
    return false;
  }

  _alreadyActive(method, callback) {
    const error = netbiosError(codes.ALREADY_ACTIVE, `Cannot ${method} Session already active.`);
    this._reportLater(error, callback);
    return this;
  }

  /** Reports an error from a method call: asynchronously, to the callback or 'error'. */
  _reportLater(error, callback) {
    process.nextTick(() => {
      if (callback) callback(error);
      else this.emit('error', error);
    });
  }

  /** Frees the core now rather than at garbage collection. */
  _releaseNative() {
    if (this._native !== null) {
      this._native.close();
      this._native = null;
    }
    this._parts = null;
  }
}

function nameParts(name) {
  return { name: name.name, suffix: name.suffix, scope: name.scopeId };
}

function isDuplex(stream) {
  return (
    stream !== null &&
    typeof stream === 'object' &&
    typeof stream.on === 'function' &&
    typeof stream.write === 'function' &&
    typeof stream.end === 'function' &&
    typeof stream.pause === 'function' &&
    typeof stream.resume === 'function'
  );
}

NetbiosSession.MAX_MESSAGE_LENGTH = MAX_MESSAGE_LENGTH;
NetbiosSession.NetbiosName = NetbiosName;

// 0.1.6's constructor worked without `new`; a Proxy keeps that while the
// class stays subclassable (`class X extends NetbiosSession`).
const CallableNetbiosSession = new Proxy(NetbiosSession, {
  apply(target, thisArg, args) {
    return new target(...args);
  },
});
NetbiosSession.NetbiosSession = CallableNetbiosSession;

module.exports = CallableNetbiosSession;
