'use strict';
// A session's sockets: the listeners every socket shares and how they find
// their session, what attach() accepts as one, binding and letting go of a
// socket, a caller's TCP dial (and redial on a retarget or fallback), and
// the socket's error and close.

const net = require('net');
const { performance } = require('perf_hooks');

const { table } = require('./native');
const { State, SENT, NO_BACKLOG } = require('./constants');

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

const SOCKET_LISTENERS = [
  ['data', onSocketData],
  ['end', onSocketEnd],
  ['error', onSocketError],
  ['close', onSocketClose],
];

/** Where the core asks to dial: see `table.takeDial`. */
const dialWords = new Uint32Array(2);

/** An IPv4 address the core gave as a number, in dotted notation. */
function ipv4(address) {
  return `${address >>> 24}.${(address >>> 16) & 0xff}.${(address >>> 8) & 0xff}.${address & 0xff}`;
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

const methods = {
  _bindSocket(socket) {
    this._socket = socket;
    this._socketClosed = false;
    if (this._writer !== null) this._writer.drainListened = false;
    socket[kSession] = this;
    for (const [event, listener] of SOCKET_LISTENERS) socket.on(event, listener);
  },

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
  },

  /** Caller: opens the TCP connection the core asks for (its first, or the next after a retarget or fallback). */
  _dialNext() {
    // The core offers a dial only while DIALING, its state from now on.
    const port = table.takeDial(this._native, dialWords);
    this._state = State.DIALING;
    // The host connect() was given, unless a retarget named an address.
    const host = dialWords[0] === 0 ? this._host : ipv4(dialWords[1]);
    let socket;
    try {
      // Given here, TCP_NODELAY is set once, as the connection completes;
      // setNoDelay() on a connecting socket sets it twice (two syscalls).
      socket = net.connect({ port, host, noDelay: this._settings.noDelay });
    } catch (error) {
      // Bad port or host arguments throw synchronously in net.connect.
      this._terminate(error, true);
      return;
    }
    this._bindSocket(socket);
    // A socket connects once; `on` spares the wrapper `once` makes.
    socket.on('connect', onSocketConnect);
    this._armTimer();
  },

  _onSocketConnect() {
    if (this._state !== State.DIALING || this._native === null) return;
    // A direct caller is established now; a NetBIOS caller sends its request
    // (the setup deadline covers this attempt: no timer to move).
    this._state = table.connected(this._native, performance.now());
    if (this._state === State.ESTABLISHED) this._establish();
    else this._sendQueued(SENT.REQUEST);
  },

  /** Caller: drops the current connection and dials the next one the core chose. */
  _redial() {
    this._detachSocket();
    this._dialNext();
  },

  _onSocketError(error) {
    // After an answer that closes, the peer's reset is no failure.
    if (this._terminated || this._state === State.ANSWERED) return;
    this._fail(error);
  },

  _onSocketClose() {
    this._socketClosed = true;
    if (this._terminated) {
      this._maybeEmitClose();
      return;
    }
    // Messages that arrived before the close but are held (paused) are still
    // delivered; 'close' follows them.
    const state = this._state;
    if (this._backlog.length > 0 && this._native !== null && (state === State.ESTABLISHED || state === State.ENDING)) {
      this._closePending = true;
      return;
    }
    this._terminate(null, false);
  },
};

module.exports = { methods, kSession, onSocketDrain, isDuplex, ipv4 };
