'use strict';
// NetbiosSession: moves bytes between a Node duplex stream and the Rust core
// and turns the core's events into EventEmitter events. The protocol itself
// (framing, names, which packet is legal when, deadlines, retarget and
// fallback decisions) is decided in the core. This file owns the class, its
// constructor and public API (attach, connect, write, pause, resume, end,
// destroy) and the exported constructor; the rest of the class's methods
// come from one module per concern, installed on its prototype below:
// connecting.js (sockets), writing.js (sending), delivery.js (receiving),
// handshake.js, timers.js (deadlines, on shared timers) and teardown.js.

// Buffer and process are accessor properties of Node's global object: each
// use through the global calls a getter, in optimized code too. Bound here,
// they are plain loads.
const { Buffer } = require('buffer');
const process = require('process');
const { EventEmitter } = require('events');
const { performance } = require('perf_hooks');

const native = require('./native');

const { table, DEFAULT_CALLED_SUFFIX, DEFAULT_CALLING_SUFFIX } = native;
const { NetbiosName, toName, nameArgs } = require('./name');
const { codes, netbiosError } = require('./errors');
const { debug, TRACING, HEADER_LENGTH, State, STATE_NAMES, SENT, NO_BACKLOG } = require('./constants');
const { MAX_MESSAGE_LENGTH, checkOptions, resolveSettings } = require('./options');
const connecting = require('./connecting');
const writing = require('./writing');
const delivery = require('./delivery');
const handshake = require('./handshake');
const timers = require('./timers');
const teardown = require('./teardown');

const { isDuplex } = connecting;
const { BATCH_MESSAGE_LIMIT, toBuffer } = writing;

// A session's listener table. EventEmitter makes each one a `{__proto__:
// null}` literal, which V8 keeps as a hash table: 160 bytes more per idle
// session (heap snapshot). Objects of this constructor hold the same keys
// in V8's compact form, and lookups still see no inherited property: their
// prototype has no prototype.
function Listeners() {}
Listeners.prototype = Object.create(null);

class NetbiosSession extends EventEmitter {
  /**
   * @param {object} [options] see README "new NetbiosSession([options])"
   */
  constructor(options) {
    super();
    this._events = new Listeners();
    // The options, resolved (options.js): shared with sessions made alike.
    const settings = (this._settings = resolveSettings(checkOptions(options)));
    this.MAX_MESSAGE_LENGTH = settings.maxMessageLength;

    this._state = State.IDLE;
    this._native = null; // id of this session's state in the native table, while open
    this._socket = null;
    this._callback = null; // attach()'s or connect()'s, until it is called
    this._host = null; // the host connect() was given (the core's dials name it, retargets aside)
    this._timerDue = 0; // for deadlines/closing
    this._timerSlot = -1;
    // Received data not yet delivered: {chunk, offset, events, index, epoch}
    // items in arrival order. Non-empty only while paused or delivering;
    // the shared NO_BACKLOG otherwise.
    this._backlog = NO_BACKLOG;
    this._epoch = 0; // bumped when a caller moves to a new connection
    this._parts = null; // pieces of a message split across chunks
    this._writer = null; // sending state (writing.js), made on the first write
    // The error that ended the session, as Node streams keep it: the one
    // place to find it when nobody listened (see _fail).
    this.errored = null;

    this._attached = false; // attach() took a socket: the server side, facing an untrusted peer
    this._paused = settings.paused; // by the user
    // Sockets.
    this._socketClosed = false;
    // Delivery (delivery.js): what waits for the chunk being delivered.
    this._pumping = false; // _pump is on the stack
    this._connectPending = false; // 'connect' and the callback are due (next tick, or after delivery) or running
    this._establishAfterPump = false; // ... after delivery: _pump emits it when it is done
    this._endPending = false; // the peer ended; 'end' follows the held messages
    this._closePending = false; // the socket closed; 'close' follows the held messages
    // Teardown (teardown.js), in this order.
    this._terminated = false;
    this._reported = false; // the terminating error (or none) was reported
    this._closeEmitted = false;
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
    const { direct, legacyLengthBit, noDelay, requestTimeout, idleTimeout, keepAlive } = this._settings;
    const role = direct ? native.roles.DIRECT : native.roles.CALLED;
    const now = performance.now();
    this._native = table.open(role, legacyLengthBit, this.MAX_MESSAGE_LENGTH, requestTimeout, idleTimeout, keepAlive, now);
    // A socket dialed by connect() gets TCP_NODELAY through net.connect.
    if (noDelay && typeof socket.setNoDelay === 'function') socket.setNoDelay(true);
    this._bindSocket(socket);
    // Direct mode is established at once; a called node awaits the request.
    this._state = table.state(this._native);
    if (this._state === State.ESTABLISHED) this._establish();
    else this._armTimer();
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
    const { direct } = this._settings;
    if (direct && typeof callTo === 'function') callback = callTo;
    callback = typeof callback === 'function' ? callback : null;
    if (this._state !== State.IDLE || this._terminated) return this._alreadyActive('connect', callback);
    if (typeof port !== 'number') port = native.DEFAULT_PORT;
    // As net.connect: no host is localhost.
    if (host == null) host = 'localhost';
    try {
      const { timeout, requestTimeout, idleTimeout, keepAlive, maxRetargets, fallbacks } = this._settings;
      const legacy = this._settings.legacyLengthBit;
      const max = this.MAX_MESSAGE_LENGTH;
      const now = performance.now();
      if (direct) {
        this._native = table.openCall(true, legacy, max, requestTimeout, idleTimeout, keepAlive, host, port, timeout, now);
      } else {
        const [calledName, calledSuffix, calledScope] = nameArgs(callTo, DEFAULT_CALLED_SUFFIX, 'callTo');
        const [callingName, callingSuffix, callingScope] = nameArgs(callFrom, DEFAULT_CALLING_SUFFIX, 'callFrom');
        try {
          // prettier-ignore
          this._native = table.openCall(false, legacy, max, requestTimeout, idleTimeout, keepAlive, host, port, timeout, now,
            calledName, calledSuffix, calledScope, callingName, callingSuffix, callingScope, fallbacks, maxRetargets);
        } catch (refused) {
          // The core refused a name: toName() says which argument, and why.
          toName(callTo, DEFAULT_CALLED_SUFFIX, 'callTo');
          toName(callFrom, DEFAULT_CALLING_SUFFIX, 'callFrom');
          throw refused;
        }
      }
    } catch (error) {
      this._releaseNative();
      if (!error.code || !error.code.startsWith('ERR_')) error.code = codes.INVALID_ARG_VALUE;
      this._reportLater(error, callback);
      return this;
    }
    this._callback = callback;
    this._host = host;
    this._dialNext();
    return this;
  }

  /**
   * Sends `message` as one SESSION MESSAGE. Returns false when the caller
   * should wait for 'drain'. `callback(error)` runs once it is written out.
   */
  write(message, callback) {
    callback = typeof callback === 'function' ? callback : null;
    if (this._state !== State.ESTABLISHED) {
      if (this._terminated) {
        // As on a destroyed Node stream: the callback learns it, nothing
        // is emitted (a reply racing the peer's close is no mistake).
        const why = this.errored ? ` (${this.errored.code || this.errored.message})` : '';
        const error = netbiosError(codes.NOT_CONNECTED, `Cannot write: the session has closed${why}`);
        if (callback) process.nextTick(callback, error);
        return false;
      }
      const why = this._state === State.ENDING ? 'the session has been ended' : 'the session is not established';
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
    if (TRACING) this._trace('send', SENT.MESSAGE, length);
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
    if (this._terminated || this._state === State.ENDING || this._state === State.ANSWERED) return this;
    // What was written before end() goes out first.
    if (this._state === State.ESTABLISHED) this._flushBatch();
    if (this._native !== null) this._state = table.end(this._native, performance.now());
    if (this._state !== State.ENDING) {
      // Not established: the setup is over. A pending callback learns why;
      // nobody else needs an 'error'.
      this._terminate(netbiosError(codes.NOT_CONNECTED, 'The session was ended before it was established'), true, true);
      return this;
    }
    // Like net.Socket#end(), the socket keeps the process alive until it
    // closes; a peer that never closes is cut off at the core's close deadline.
    this._socket.end();
    this._armTimer();
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

  _trace(direction, frame, length) {
    debug('%s %s length=%d state=%s', direction, frame, length, STATE_NAMES[this._state]);
  }
}

/**
 * Puts a concern module's methods on NetbiosSession.prototype as a class
 * body would (non-enumerable, writable, configurable). They stay prototype
 * methods called as `this._x()`, so objects keep one shape and call sites
 * stay monomorphic, as when they were written in the class body. Runs once,
 * at load; a name defined twice is a mistake and throws.
 */
function installMethods(methods) {
  const prototype = NetbiosSession.prototype;
  for (const name of Object.keys(methods)) {
    if (Object.prototype.hasOwnProperty.call(prototype, name)) {
      throw new Error(`netbios-session internal error: ${name} is defined twice`);
    }
    Object.defineProperty(prototype, name, { value: methods[name], writable: true, enumerable: false, configurable: true });
  }
}

installMethods(connecting.methods);
installMethods(writing.methods);
installMethods(delivery.methods);
installMethods(handshake.methods);
installMethods(timers.methods);
installMethods(teardown.methods);

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
