'use strict';
// NetbiosSession: moves bytes between a Node duplex stream and the Rust core
// and turns the core's events into EventEmitter events. The protocol itself
// (framing, names, which packet is legal when, deadlines, retarget and
// fallback decisions) is decided in the core; this file owns the sockets and
// waits for the deadlines the core asks for (on shared timers: deadlines.js).

// Buffer and process are accessor properties of Node's global object: each
// use through the global calls a getter, in optimized code too. Bound here,
// they are plain loads.
const { Buffer } = require('buffer');
const process = require('process');
const { EventEmitter } = require('events');
const net = require('net');
const { performance } = require('perf_hooks');
const util = require('util');

const native = require('./native');
const { Deadlines } = require('./deadlines');

const { table, MAX_CONTROL_FRAME, MAX_ANSWER_FRAME } = native;
const { NetbiosName, toName, nameArgs, unpackNames } = require('./name');
const { codes, netbiosError } = require('./errors');

const debug = util.debuglog('netbios-session');
// Node reads NODE_DEBUG once, at startup: read the answer once too, not
// through the `enabled` getter on every frame.
const TRACING = debug.enabled;

const MAX_MESSAGE_LENGTH = 131071;
const MAX_WIDE_MESSAGE_LENGTH = 16777215;
const DEFAULT_PORT = 139;
const HEADER_LENGTH = 4;
// Messages up to this size are copied, header and payload, into a batch
// buffer that goes to the socket in one write at the end of the tick (or
// when full): many small messages, one syscall. Larger ones go out at once
// as a corked header + payload pair (one writev, no copy).
const BATCH_MESSAGE_LIMIT = 16 * 1024;
// A session's first batch is small: it comes from Buffer's 8 KiB pool, and
// a 4 KiB one made Node allocate a new pool every second message (1.5 us
// each, measured). A batch that fills up is followed by one twice the size.
const BATCH_MIN = 512;
const BATCH_MAX = 64 * 1024;
// Longest delay setTimeout takes.
const MAX_DURATION = 2147483647;
// RFC 1002's SSN_CLOSE_TIMEOUT: how long end() waits for the peer to close.
const CLOSE_TIMEOUT = 30000;
// Why a write's callback fails when its message never reached the socket.
const SENT_TOO_LATE = 'The session closed before the message was sent';

const DEFAULTS = Object.freeze({
  timeout: 20000, // caller setup, as Samba's client
  requestTimeout: 30000, // RFC 1002 SSN_CLOSE_TIMEOUT
  idleTimeout: 0,
  keepAlive: 0,
  maxRetargets: 4, // RFC 1002 SSN_RETRY_COUNT
});

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

// Frame names for tracing, by event kind.
const RECEIVED_FRAME = new Map([
  [native.KEEP_ALIVE, 'SESSION KEEP ALIVE'],
  [native.REQUEST, 'SESSION REQUEST'],
  [native.POSITIVE, 'POSITIVE SESSION RESPONSE'],
  [native.NEGATIVE, 'NEGATIVE SESSION RESPONSE'],
  [native.RETARGET, 'RETARGET SESSION RESPONSE'],
]);

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

// A session's listener table. EventEmitter makes each one a `{__proto__:
// null}` literal, which V8 keeps as a hash table: 160 bytes more per idle
// session (heap snapshot). Objects of this constructor hold the same keys
// in V8's compact form, and lookups still see no inherited property: their
// prototype has no prototype.
function Listeners() {}
Listeners.prototype = Object.create(null);

// The backlog of every session with nothing held: never written to.
const NO_BACKLOG = Object.freeze([]);

// Socket listeners are shared functions: `this` is the socket, and the
// socket points back at its session. No closures per session.
const kSession = Symbol('netbios-session');

/** The session `socket` belongs to, if it is still that session's current socket. */
function sessionOf(socket) {
  const session = socket[kSession];
  return session !== undefined && session._socket === socket ? session : null;
}

// One function per event rather than one made by a factory: a shared
// `session[method]()` call site would see every method name and go
// megamorphic.
function onSocketConnect() {
  const session = sessionOf(this);
  if (session !== null) session._onSocketConnect();
}

function onSocketData(chunk) {
  const session = sessionOf(this);
  if (session !== null) session._onData(chunk);
}

function onSocketEnd() {
  const session = sessionOf(this);
  if (session !== null) session._onEnd();
}

function onSocketError(error) {
  const session = sessionOf(this);
  if (session !== null) session._onSocketError(error);
}

function onSocketClose() {
  const session = sessionOf(this);
  if (session !== null) session._onSocketClose();
}

function onSocketDrain() {
  const session = sessionOf(this);
  if (session !== null) session._onDrain();
}
function ignore() {}

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

function onEstablished(session) {
  session._onEstablished();
}

function pumpAgain(session) {
  if (!session._terminated) session._pump();
}

function reportEnd(session, callback, error, quiet) {
  session._reportEnd(callback, error, quiet);
}

function emitDrain(session) {
  if (!session._terminated) session._emit('drain');
}

function flushBatchSoon(session) {
  session._flushScheduled = false;
  if (session._socket === null || session._terminated) return;
  // A socket that closed while messages were held (the session ends once
  // they are delivered) takes no more writes: their callbacks learn why.
  if (session._socketClosed) session._dropBatch(netbiosError(codes.NOT_CONNECTED, SENT_TOO_LATE));
  else session._flushBatch();
}

const SOCKET_LISTENERS = [
  ['data', onSocketData],
  ['end', onSocketEnd],
  ['error', onSocketError],
  ['close', onSocketClose],
];

function checkOptions(options) {
  if (options == null) return {};
  if (typeof options !== 'object') {
    throw netbiosError(codes.INVALID_ARG_TYPE, `options must be an object, got ${typeof options}`, null, TypeError);
  }
  return options;
}

function invalidType(name, value, expected) {
  let got = typeof value;
  if (value === null) got = 'null';
  else if (Array.isArray(value)) got = 'an array';
  else if (typeof value === 'string') got = `string ${JSON.stringify(value)}`;
  else if (typeof value !== 'object' && typeof value !== 'function') got = `${typeof value} ${String(value)}`;
  return netbiosError(codes.INVALID_ARG_TYPE, `The "${name}" option must be ${expected}, got ${got}`, null, TypeError);
}

/** A true/false option; missing (undefined or null) means `fallback`. */
function resolveBoolean(options, name, fallback) {
  const value = options[name];
  if (value == null) return fallback;
  if (typeof value !== 'boolean') throw invalidType(name, value, 'true or false');
  return value;
}

function outOfRange(name, value, range) {
  return netbiosError(codes.OUT_OF_RANGE, `${name} must be ${range}, got ${String(value)}`, null, RangeError);
}

function resolveMaxMessageLength(options, direct) {
  const value = options.maxMessageLength;
  if (value == null) return direct ? MAX_WIDE_MESSAGE_LENGTH : MAX_MESSAGE_LENGTH;
  if (typeof value !== 'number') throw invalidType('maxMessageLength', value, 'a number');
  if (!Number.isInteger(value) || value < 0 || value > MAX_WIDE_MESSAGE_LENGTH) {
    throw outOfRange('maxMessageLength', value, `an integer from 0 to ${MAX_WIDE_MESSAGE_LENGTH}`);
  }
  return value;
}

/** A duration option in milliseconds; 0 turns it off. */
function resolveDuration(options, name) {
  const value = options[name] == null ? DEFAULTS[name] : options[name];
  if (typeof value !== 'number') throw invalidType(name, value, 'a number of milliseconds');
  if (!Number.isInteger(value) || value < 0 || value > MAX_DURATION) {
    throw outOfRange(name, value, `a whole number of milliseconds from 0 (off) to ${MAX_DURATION}`);
  }
  return value;
}

function resolveMaxRetargets(options) {
  const value = options.maxRetargets == null ? DEFAULTS.maxRetargets : options.maxRetargets;
  if (typeof value !== 'number') throw invalidType('maxRetargets', value, 'a number');
  if (!Number.isInteger(value) || value < 0 || value > 255) {
    throw outOfRange('maxRetargets', value, 'an integer from 0 to 255');
  }
  return value;
}

/** The fallback names as the flat [name, suffix, scope, ...] list openCall takes, or undefined for none. */
function resolveFallbacks(options) {
  const value = options.calledNameFallback;
  if (value == null || (Array.isArray(value) && value.length === 0)) return undefined;
  if (!Array.isArray(value)) throw invalidType('calledNameFallback', value, 'an array of names');
  return Object.freeze(value.flatMap((name, i) => nameParts(toName(name, 0x20, `calledNameFallback[${i}]`))));
}

/** The timing and call options, resolved. */
function settingsFrom(options) {
  // Checked in this order: the first bad option is the one reported.
  const timeout = resolveDuration(options, 'timeout');
  const requestTimeout = resolveDuration(options, 'requestTimeout');
  const idleTimeout = resolveDuration(options, 'idleTimeout');
  const keepAlive = resolveDuration(options, 'keepAlive');
  return Object.freeze({
    timeout,
    requestTimeout,
    idleTimeout,
    keepAlive,
    // Whether an established session can have a deadline at all.
    timedWhenEstablished: idleTimeout > 0 || keepAlive > 0,
    maxRetargets: resolveMaxRetargets(options),
    fallbacks: resolveFallbacks(options),
  });
}

const DEFAULT_SETTINGS = settingsFrom({});

/** Sessions that set none of the timing and call options share one settings object. */
function resolveSettings(options) {
  // Named reads, not a loop over names: each named read gets its own inline
  // cache, where one keyed read with varying keys goes megamorphic.
  const defaults =
    options.timeout == null &&
    options.requestTimeout == null &&
    options.idleTimeout == null &&
    options.keepAlive == null &&
    options.maxRetargets == null &&
    options.calledNameFallback == null;
  return defaults ? DEFAULT_SETTINGS : settingsFrom(options);
}

// Configurations the core accepted. Its check is pure, and a server makes a
// session per connection with the same few options: no native call each.
const acceptedConfigs = new Set();

/** Throws a TypeError if the core rejects the combination of options. */
function checkConfig(direct, legacyLengthBit, max) {
  const key = max * 4 + (direct ? 2 : 0) + (legacyLengthBit ? 1 : 0);
  if (acceptedConfigs.has(key)) return;
  try {
    native.checkConfig(direct, legacyLengthBit, max);
  } catch (cause) {
    throw netbiosError(codes.INVALID_ARG_VALUE, cause.message, null, TypeError);
  }
  if (acceptedConfigs.size < 64) acceptedConfigs.add(key);
}

function toBuffer(chunk) {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (typeof chunk === 'string') return Buffer.from(chunk);
  if (ArrayBuffer.isView(chunk)) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  return null;
}

function ipv4(address) {
  return `${address >>> 24}.${(address >>> 16) & 0xff}.${(address >>> 8) & 0xff}.${address & 0xff}`;
}

/** A name as the (name, suffix, scope) arguments the binding takes. */
function nameParts(name) {
  return [name.name, name.suffix, name.scopeId];
}

/** `out` cut to the `length` bytes the binding wrote into it. */
function written(out, length) {
  return length === out.length ? out : out.subarray(0, length);
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

class NetbiosSession extends EventEmitter {
  /**
   * @param {object} [options] see README "new NetbiosSession([options])"
   */
  constructor(options) {
    super();
    this._events = new Listeners();
    options = checkOptions(options);
    const direct = resolveBoolean(options, 'direct', false);
    const legacyLengthBit = resolveBoolean(options, 'legacyLengthBit', false);
    const max = resolveMaxMessageLength(options, direct);
    checkConfig(direct, legacyLengthBit, max);
    this.MAX_MESSAGE_LENGTH = max;
    // Every boolean below is a bit of _flags (see FLAGS); unset ones start false.
    this._flags = 0;
    if (resolveBoolean(options, 'autoAccept', false)) this._autoAccept = true;
    if (direct) this._direct = true;
    if (legacyLengthBit) this._legacyLengthBit = true;
    if (resolveBoolean(options, 'noDelay', true)) this._noDelay = true;
    if (resolveBoolean(options, 'paused', false)) this._paused = true;
    this._settings = resolveSettings(options);

    this._state = State.IDLE;
    this._native = null; // id of this session's state in the native table, while open
    this._socket = null;
    this._target = null; // caller: {host, port} of the current attempt
    this._callback = null; // attach()'s or connect()'s, until it is called
    this._timerDue = 0; // for deadlines/closing
    this._timerSlot = -1;
    this._dialDeadline = null; // direct caller: TCP connect deadline
    // Received data not yet delivered: {chunk, offset, events, index, epoch}
    // items in arrival order. Non-empty only while paused or delivering;
    // the shared NO_BACKLOG otherwise.
    this._backlog = NO_BACKLOG;
    this._epoch = 0; // bumped when a caller moves to a new connection
    this._parts = null; // pieces of a message split across chunks
    this._batch = null;
    this._batchUsed = 0;
    this._batchSize = BATCH_MIN;
    this._batchCallbacks = null;
    // The error that ended the session, as Node streams keep it: the one
    // place to find it when nobody listened (see _fail).
    this.errored = null;
  }

  /**
   * Takes over a connected duplex stream. In handshake mode, waits for a
   * SESSION REQUEST and calls `callback(null, request)`; without a callback
   * the request is accepted if `autoAccept` is set, else rejected (0x80).
   * In direct mode the session is established at once.
   */
  attach(socket, callback) {
    callback = typeof callback === 'function' ? callback : null;
    if (this._state !== State.IDLE || this._terminated) return this._alreadyActive('attach', callback);
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
    this._callback = callback;
    this._attached = true;
    const { requestTimeout, idleTimeout, keepAlive } = this._settings;
    const role = this._direct ? native.ROLE_DIRECT : native.ROLE_CALLED;
    const now = performance.now();
    this._native = table.open(role, this._legacyLengthBit, this.MAX_MESSAGE_LENGTH, requestTimeout, idleTimeout, keepAlive, now);
    // A socket dialed by connect() gets TCP_NODELAY through net.connect.
    if (this._noDelay && typeof socket.setNoDelay === 'function') socket.setNoDelay(true);
    this._bindSocket(socket);
    if (this._direct) {
      this._establish();
    } else {
      this._state = State.AWAITING_REQUEST;
    }
    this._armTimer();
    this._updateFlow();
    return this;
  }

  /**
   * Opens TCP to `host:port` (139 when port is not a number) and asks for a
   * session with `callTo` from `callFrom`, following retargets and trying
   * `calledNameFallback` names within one `timeout`. `callback(error)` runs
   * once the session is established or has failed. In direct mode names are
   * not used and `connect(port, host, callback)` is accepted.
   */
  connect(port, host, callTo, callFrom, callback) {
    if (this._direct && typeof callTo === 'function') callback = callTo;
    callback = typeof callback === 'function' ? callback : null;
    if (this._state !== State.IDLE || this._terminated) return this._alreadyActive('connect', callback);
    if (typeof port !== 'number') port = DEFAULT_PORT;
    try {
      const { timeout, requestTimeout, idleTimeout, keepAlive } = this._settings;
      if (this._direct) {
        // Started (clocks running) once TCP is up: -1.
        this._native = table.open(native.ROLE_DIRECT, false, this.MAX_MESSAGE_LENGTH, requestTimeout, idleTimeout, keepAlive, -1);
        if (timeout > 0) this._dialDeadline = performance.now() + timeout;
      } else {
        const [calledName, calledSuffix, calledScope] = nameArgs(callTo, 0x20, 'callTo');
        const [callingName, callingSuffix, callingScope] = nameArgs(callFrom, 0x00, 'callFrom');
        try {
          this._native = table.openCall(
            this._legacyLengthBit,
            this.MAX_MESSAGE_LENGTH,
            requestTimeout,
            idleTimeout,
            keepAlive,
            calledName,
            calledSuffix,
            calledScope,
            callingName,
            callingSuffix,
            callingScope,
            this._settings.fallbacks,
            this._settings.maxRetargets,
            timeout,
            performance.now()
          );
        } catch (refused) {
          // The core refused a name: toName() says which argument, and why.
          toName(callTo, 0x20, 'callTo');
          toName(callFrom, 0x00, 'callFrom');
          throw refused;
        }
      }
    } catch (error) {
      this._releaseNative();
      if (!error.code) error.code = codes.INVALID_ARG_VALUE;
      this._reportLater(error, callback);
      return this;
    }
    this._callback = callback;
    this._dial(host, port);
    this._armTimer();
    return this;
  }

  /**
   * Sends `message` as one SESSION MESSAGE. Returns false when the caller
   * should wait for 'drain'. `callback(error)` runs once it is written out.
   */
  write(message, callback) {
    callback = typeof callback === 'function' ? callback : null;
    if (this._state !== State.ESTABLISHED || this._ending) {
      if (this._terminated) {
        // As on a destroyed Node stream: the callback learns it, nothing
        // is emitted (a reply racing the peer's close is no mistake).
        const why = this.errored ? ` (${this.errored.code || this.errored.message})` : '';
        const error = netbiosError(codes.NOT_CONNECTED, `Cannot write: the session has closed${why}`);
        if (callback) process.nextTick(callback, error);
        return false;
      }
      const why = this._ending ? 'the session has been ended' : 'the session is not established';
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
    if (length > this.MAX_MESSAGE_LENGTH) return this._writeFailed(length, callback);
    if (TRACING) this._trace('send', 'SESSION MESSAGE', length);
    if (length <= BATCH_MESSAGE_LIMIT) return this._writeBatched(payload, length, callback);
    this._flushBatch();
    const socket = this._socket;
    const header = Buffer.allocUnsafe(HEADER_LENGTH);
    this._frame(length, header, 0);
    socket.cork();
    socket.write(header);
    const flushed = socket.write(payload, callback || undefined);
    socket.uncork();
    if (!flushed) this._awaitDrain();
    return flushed;
  }

  /** Appends one framed message to the batch; true while the caller may keep writing. */
  _writeBatched(payload, length, callback) {
    const need = HEADER_LENGTH + length;
    let batch = this._batch;
    if (batch !== null && this._batchUsed + need > batch.length) {
      // Full: send it now and take a larger one next (this is a bulk writer).
      this._flushBatch();
      this._batchSize = Math.min(this._batchSize * 2, BATCH_MAX);
      batch = null;
    }
    if (batch === null) {
      batch = this._batch = Buffer.allocUnsafe(Math.max(need, this._batchSize));
      if (!this._flushScheduled) {
        this._flushScheduled = true;
        // A write from a 'message' handler (an echo, a reply) goes out as
        // soon as the chunk's messages are delivered, with the other
        // replies to that chunk; any other waits for the end of the tick.
        if (this._pumping) this._flushAfterPump = true;
        else process.nextTick(flushBatchSoon, this);
      }
    }
    const at = this._batchUsed;
    // Only the length here; the core turns it into the header at flush.
    batch.writeUInt32BE(length, at);
    payload.copy(batch, at + HEADER_LENGTH);
    this._batchUsed = at + need;
    if (callback !== null) {
      if (this._batchCallbacks === null) this._batchCallbacks = [callback];
      else this._batchCallbacks.push(callback);
    }
    const socket = this._socket;
    if (socket.writableLength + this._batchUsed < socket.writableHighWaterMark) return true;
    // The caller will wait for 'drain': make sure one comes even if the
    // socket takes the batch without filling up.
    this._needDrain = true;
    return false;
  }

  /** Writes the core's SESSION MESSAGE header for `length` into `target` at `offset`. */
  _frame(length, target, offset) {
    const problem = table.messageHeader(this._native, length, target, offset);
    // Length and state were checked above; the core agreeing is an invariant.
    if (problem !== null) throw new Error(`netbios-session internal error: ${problem}`);
  }

  /** Hands the pending batch to the socket (before any other write, to keep order). */
  _flushBatch() {
    const batch = this._batch;
    if (batch === null) return;
    const used = this._batchUsed;
    const callbacks = this._batchCallbacks;
    this._batch = null;
    this._batchUsed = 0;
    this._batchCallbacks = null;
    const problem = table.frameBatch(this._native, batch, used);
    // Lengths and state were checked in write(); the core agreeing is an invariant.
    if (problem !== null) throw new Error(`netbios-session internal error: ${problem}`);
    const bytes = used === batch.length ? batch : batch.subarray(0, used);
    const accepted = this._socket.write(bytes, callbacks === null ? undefined : (error) => {
      for (const callback of callbacks) callback(error);
    });
    if (!accepted) {
      this._awaitDrain();
    } else if (this._needDrain) {
      this._needDrain = false;
      process.nextTick(emitDrain, this);
    }
  }

  /**
   * Listens for the socket's 'drain', which follows a write it refused.
   * Added on the first refusal only: most sessions never fill a socket, and
   * each listener costs an idle session memory.
   */
  _awaitDrain() {
    if (this._drainListened) return;
    this._drainListened = true;
    this._socket.on('drain', onSocketDrain);
  }

  /** Fails the callbacks of a batch that will never be written. */
  _dropBatch(error) {
    const callbacks = this._batchCallbacks;
    this._batch = null;
    this._batchUsed = 0;
    this._batchCallbacks = null;
    if (callbacks !== null) process.nextTick(() => callbacks.forEach((callback) => callback(error)));
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

  /**
   * Ends the session: FIN after pending writes; 'close' once the peer closes
   * (at most SSN_CLOSE_TIMEOUT later). Before establishment it aborts the
   * setup. Safe to call more than once.
   */
  end() {
    if (this._ending || this._terminated) return this;
    this._ending = true;
    if (this._state !== State.ESTABLISHED) {
      // A pending callback learns why; nobody else needs an 'error'.
      this._terminate(netbiosError(codes.NOT_CONNECTED, 'The session was ended before it was established'), true, true);
      return this;
    }
    this._clearTimer();
    this._flushBatch();
    // Like net.Socket#end(), the socket keeps the process alive until it
    // closes; a peer that never closes is cut off after CLOSE_TIMEOUT.
    this._socket.end();
    closing.schedule(this, performance.now() + CLOSE_TIMEOUT);
    return this;
  }

  /**
   * Tears the session down at once: the socket is destroyed, timers stop.
   * `error`, if given, is reported (to a pending callback, else 'error');
   * then 'close' is emitted, last.
   */
  destroy(error) {
    if (this._terminated) return this;
    if (error instanceof Error) {
      this._terminate(error, true);
    } else {
      const why = netbiosError(codes.NOT_CONNECTED, 'The session was destroyed before it was established');
      this._terminate(why, true, true);
    }
    return this;
  }

  // ---- sockets -------------------------------------------------------

  _bindSocket(socket) {
    this._socket = socket;
    this._socketClosed = false;
    this._drainListened = false;
    socket[kSession] = this;
    for (const [event, listener] of SOCKET_LISTENERS) socket.on(event, listener);
  }

  /** Lets go of the current socket (a caller moving to a new connection). */
  _detachSocket() {
    const socket = this._socket;
    if (socket === null) return;
    for (const [event, listener] of SOCKET_LISTENERS) socket.removeListener(event, listener);
    socket.removeListener('drain', onSocketDrain);
    socket.removeListener('connect', onSocketConnect);
    socket.on('error', ignore);
    socket.destroy();
    socket[kSession] = undefined;
    this._socket = null;
    this._epoch++;
    this._backlog = NO_BACKLOG;
    this._parts = null;
  }

  /** Caller: opens the TCP connection of one attempt. */
  _dial(host, port) {
    let socket;
    try {
      // Given here, TCP_NODELAY is set once, as the connection completes;
      // setNoDelay() on a connecting socket sets it twice (two syscalls).
      socket = net.connect({ port, host, noDelay: this._noDelay });
    } catch (error) {
      // Bad port or host arguments throw synchronously in net.connect.
      this._terminate(error, true);
      return;
    }
    this._target = { host, port };
    this._state = State.CONNECTING;
    this._bindSocket(socket);
    // A socket connects once; `on` spares the wrapper `once` makes.
    socket.on('connect', onSocketConnect);
  }

  _onSocketConnect() {
    if (this._state !== State.CONNECTING) return;
    if (this._direct) {
      this._dialDeadline = null;
      table.start(this._native, performance.now());
      this._establish();
    } else {
      // The setup deadline set in connect() covers this attempt: no timer to move.
      this._state = State.AWAITING_RESPONSE;
      const out = Buffer.allocUnsafe(MAX_CONTROL_FRAME);
      this._send(written(out, table.request(this._native, out)), 'SESSION REQUEST');
    }
  }

  /** Caller: drops the current connection and starts the next attempt. */
  _redial(host, port) {
    this._detachSocket();
    this._dial(host, port);
    this._armTimer();
  }

  _onData(chunk) {
    if (this._native === null) return;
    const buffer = toBuffer(chunk);
    if (buffer === null || buffer.length === 0) return;
    const item = { chunk: buffer, offset: 0, events: null, index: 0, epoch: this._epoch };
    if (this._backlog === NO_BACKLOG) this._backlog = [item];
    else this._backlog.push(item);
    this._pump();
  }

  _onEnd() {
    if (this._state === State.AWAITING_DECISION) {
      // Whatever came behind the request, the answer can no longer matter.
      this._fail(netbiosError(codes.PROTOCOL, 'Connection ended by the peer before the SESSION REQUEST was answered'));
      return;
    }
    if (this._backlog.length > 0) {
      this._endPending = true;
      return;
    }
    this._finishEnd();
  }

  /** The peer ended its stream and everything before the end was delivered. */
  _finishEnd() {
    if (this._terminated) return;
    if (this._native !== null) {
      const truncated = table.endOfInput(this._native);
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
        this._emit('end');
        this._closeAfterPeerEnd();
    }
  }

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
    if (this._state !== State.ESTABLISHED || this._terminated || socket === null || socket.destroyed) return;
    if (!(socket instanceof net.Socket) || socket.encrypted || socket.allowHalfOpen !== false) return;
    if (this._batch !== null || socket.writableLength > 0) return;
    socket.destroy();
  }

  _onDrain() {
    this._needDrain = false;
    this._emit('drain');
  }

  _onSocketError(error) {
    if (this._terminated || this._state === State.CLOSED) return;
    this._fail(error);
  }

  _onSocketClose() {
    this._socketClosed = true;
    if (this._terminated) {
      this._maybeEmitClose();
      return;
    }
    // Messages that arrived before the close but are held (paused) are still
    // delivered; 'close' follows them.
    if (this._backlog.length > 0 && this._native !== null && this._state === State.ESTABLISHED) {
      this._closePending = true;
      return;
    }
    this._terminate(null, false);
  }

  /** Pauses the socket while delivery is held, so TCP pushes back on the peer. */
  _updateFlow() {
    const socket = this._socket;
    if (socket === null || this._terminated) return;
    // Held data or a user pause stop reading; the tick until 'connect' is
    // emitted does not (pausing costs a readStop/readStart pair per session).
    const paused = this._paused && this._state === State.ESTABLISHED;
    if (paused || this._backlog.length > 0) {
      if (!socket.isPaused()) socket.pause();
    } else if (socket.isPaused()) {
      socket.resume();
    }
  }

  _send(bytes, frame) {
    if (TRACING) this._trace('send', frame, bytes.length - HEADER_LENGTH);
    this._flushBatch();
    this._socket.write(bytes);
  }

  _trace(direction, frame, length) {
    debug('%s %s length=%d state=%s', direction, frame, length, this._state);
  }

  // ---- decoding and delivery -------------------------------------------

  /**
   * Delivery is held while the user paused an established session, until
   * 'connect' and the callback have run, and while a request awaits its
   * answer (the core reads what was pipelined behind it only once accepted).
   */
  _holding() {
    const state = this._state;
    return (state === State.ESTABLISHED && (this._paused || this._connectPending)) || state === State.AWAITING_DECISION;
  }

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
      if (this._flushAfterPump) {
        this._flushAfterPump = false;
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
  }

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
        const end = native.PREFIX + count * native.EVENT_WORDS;
        const stop = this._deliver(item, events, native.PREFIX, end);
        if (stop >= 0) {
          item.events = events.slice(stop, end);
          item.index = 0;
        }
      } finally {
        releaseEvents(events);
      }
    }
  }

  /**
   * Delivery ended in an exception: the flush and the 'connect' that
   * waited for its end move to the next tick, and so does the rest of the
   * delivery (held messages, then a pending 'end' or 'close').
   */
  _afterPumpLater() {
    if (this._flushAfterPump) {
      this._flushAfterPump = false;
      process.nextTick(flushBatchSoon, this);
    }
    if (this._establishAfterPump) {
      this._establishAfterPump = false;
      process.nextTick(onEstablished, this);
    }
    process.nextTick(pumpAgain, this);
  }

  /** Handles events[start..end) of `item`; returns where it stopped, or -1 when all were handled. */
  _deliver(item, events, start, end) {
    for (let at = start; at < end; at += native.EVENT_WORDS) {
      if (this._native === null || item.epoch !== this._epoch) return -1;
      if (this._holding()) return at;
      try {
        this._handleEvent(item.chunk, events[at], events[at + 1], events[at + 2]);
      } catch (error) {
        // A throwing handler: the events after this one wait in the item,
        // delivered once (see _afterPumpLater), neither lost nor repeated.
        const rest = at + native.EVENT_WORDS;
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
  }

  _handleEvent(chunk, kind, a, b) {
    switch (kind) {
      case native.MESSAGE:
        if (TRACING) this._trace('recv', 'SESSION MESSAGE', b - a);
        this.emit('message', chunk.subarray(a, b));
        return;
      case native.MESSAGE_FIRST:
        this._parts = [chunk.subarray(a, b)];
        return;
      case native.MESSAGE_MORE:
        this._parts.push(chunk.subarray(a, b));
        return;
      case native.MESSAGE_LAST: {
        this._parts.push(chunk.subarray(a, b));
        const message = Buffer.concat(this._parts);
        this._parts = null;
        if (TRACING) this._trace('recv', 'SESSION MESSAGE', message.length);
        this.emit('message', message);
        return;
      }
      case native.PROTOCOL_ERROR:
        this._fail(netbiosError(codes.PROTOCOL, table.takeError(this._native)));
        return;
      default:
    }
    if (TRACING) this._trace('recv', RECEIVED_FRAME.get(kind), kind === native.NEGATIVE ? 1 : kind === native.RETARGET ? 6 : 0);
    switch (kind) {
      case native.KEEP_ALIVE:
        return;
      case native.REQUEST:
        this._onRequest();
        return;
      case native.POSITIVE:
        this._establish();
        return;
      case native.NEGATIVE:
        this._onNegative(a);
        return;
      case native.RETARGET:
        this._onRetarget(a, b);
        return;
      default:
        this._fail(netbiosError(codes.PROTOCOL, `internal error: unknown event kind ${kind}`));
    }
  }

  // ---- handshake -----------------------------------------------------

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
  }

  _answerable() {
    return this._state === State.AWAITING_DECISION && !this._terminated;
  }

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
  }

  _reject(reason) {
    if (!this._answerable()) return;
    let code = CODE_BY_REASON.get(reason);
    if (code === undefined) code = REASON_BY_CODE.has(reason) ? reason : UNSPECIFIED_ERROR;
    const out = Buffer.allocUnsafe(MAX_ANSWER_FRAME);
    this._finishAnswer(out, table.reject(this._native, code, out), 'NEGATIVE SESSION RESPONSE');
  }

  _retargetTo(host, port) {
    if (!this._answerable()) return;
    const out = Buffer.allocUnsafe(MAX_ANSWER_FRAME);
    this._finishAnswer(out, table.retargetTo(this._native, host, port, out), 'RETARGET SESSION RESPONSE');
  }

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
  }

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
  }

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
  }

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
  }

  _onRetarget(address, port) {
    const host = ipv4(address);
    const loop = table.retarget(this._native, address, port);
    if (loop !== null) {
      this._fail(netbiosError(codes.RETARGET_LOOP, loop, { host, port }));
      return;
    }
    this._emit('retarget', { host, port });
    if (!this._terminated) this._redial(host, port);
  }

  // ---- timers ----------------------------------------------------------

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
  }

  _clearTimer() {
    deadlines.cancel(this);
  }

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
  }

  // ---- errors and teardown -------------------------------------------

  _takePendingCallback() {
    const callback = this._callback;
    this._callback = null;
    return callback;
  }

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
  }

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
    closing.cancel(this);
    this._releaseNative();
    this._backlog = NO_BACKLOG;
    if (this._batch !== null) {
      this._dropBatch(error || netbiosError(codes.NOT_CONNECTED, SENT_TOO_LATE));
    }
    const socket = this._socket;
    if (socket !== null && !socket.destroyed) socket.destroy();
    if (async) process.nextTick(reportEnd, this, callback, error, quiet);
    else this._reportEnd(callback, error, quiet);
  }

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
  }

  /** 'close' comes once, after the error report and after the socket closed. */
  _maybeEmitClose() {
    if (this._closeEmitted || !this._reported) return;
    if (this._socket !== null && !this._socketClosed) return;
    this._closeEmitted = true;
    if (this._socket !== null) this._socket[kSession] = undefined;
    this.emit('close');
  }

  /** Emits unless 'close' has been emitted: nothing follows 'close'. */
  _emit(event, arg) {
    if (this._closeEmitted) return false;
    // No rest parameter: an array per emit. Listeners get no argument when none was given.
    return arguments.length === 1 ? this.emit(event) : this.emit(event, arg);
  }

  _writeFailed(length, callback) {
    const error = netbiosError(
      codes.MESSAGE_TOO_LONG,
      `Message length [${length}] exceeds maximum [${this.MAX_MESSAGE_LENGTH}]`
    );
    // 0.1.6 both emitted 'error' and called back for an oversized message.
    process.nextTick(() => {
      this._emit('error', error);
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
      else this._emit('error', error);
    });
  }

  /** Frees the session's native state: nothing else ever would. */
  _releaseNative() {
    if (this._native !== null) {
      table.close(this._native);
      this._native = null;
    }
    this._parts = null;
  }
}

// A session's booleans, as bits of its `_flags` with accessors of the same
// names: an idle server holds thousands of sessions, and twenty fields
// would cost 160 bytes each.
const FLAGS = [
  'autoAccept',
  'direct',
  'legacyLengthBit',
  'noDelay',
  'paused', // by the user
  'socketClosed',
  'ending', // end() was called
  'terminated',
  'reported', // the terminating error (or none) was reported
  'closeEmitted',
  'pumping', // _pump is on the stack
  'connectPending', // 'connect' and the callback are due (next tick, or after delivery) or running
  'establishAfterPump', // ... after delivery: _pump emits it when it is done
  'endPending', // the peer ended; 'end' follows the held messages
  'closePending', // the socket closed; 'close' follows the held messages
  'flushScheduled', // the write batch goes out on the next tick, or after delivery
  'flushAfterPump', // ... after delivery: _pump sends it when it is done
  'needDrain', // write() returned false; 'drain' is owed
  'drainListened', // the socket's 'drain' has a listener (see _awaitDrain)
  'attached', // attach() took a socket: the server side, facing an untrusted peer
];
FLAGS.forEach((name, bit) => {
  const mask = 1 << bit;
  Object.defineProperty(NetbiosSession.prototype, `_${name}`, {
    get() {
      return (this._flags & mask) !== 0;
    },
    set(value) {
      this._flags = value ? this._flags | mask : this._flags & ~mask;
    },
  });
});

/**
 * The exported constructor. 0.1.6's worked without `new`, so this is a plain
 * function that makes a NetbiosSession either way, and stays subclassable
 * (`class X extends NetbiosSession`). A Proxy would do the same, but V8 then
 * cannot use the class's object layout: 4.5 KB more per session, measured.
 */
function NetbiosSessionConstructor(options) {
  if (new.target === undefined || new.target === NetbiosSessionConstructor) return new NetbiosSession(options);
  // A subclass: build the instance as usual, then give it the subclass's
  // prototype (Reflect.construct with another new.target costs the same 4.5 KB).
  return Object.setPrototypeOf(new NetbiosSession(options), new.target.prototype);
}
NetbiosSessionConstructor.prototype = NetbiosSession.prototype;
Object.defineProperty(NetbiosSession.prototype, 'constructor', {
  value: NetbiosSessionConstructor,
  writable: true,
  configurable: true,
});
Object.setPrototypeOf(NetbiosSessionConstructor, EventEmitter);
Object.defineProperty(NetbiosSessionConstructor, 'name', { value: 'NetbiosSession' });
NetbiosSessionConstructor.MAX_MESSAGE_LENGTH = MAX_MESSAGE_LENGTH;
NetbiosSessionConstructor.NetbiosName = NetbiosName;
NetbiosSessionConstructor.NetbiosSession = NetbiosSessionConstructor;

module.exports = NetbiosSessionConstructor;
