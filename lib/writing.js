'use strict';
// Sending: small messages batched into one socket write per tick (or per
// delivered chunk), large ones as a corked header + payload pair, control
// frames, 'drain', and the callbacks of writes that never went out.

// Bound, not read through the global: see session.js.
const { Buffer } = require('buffer');
const process = require('process');

const { table, MAX_CONTROL_FRAME } = require('./native');
const { codes, netbiosError } = require('./errors');
const { TRACING, HEADER_LENGTH } = require('./constants');
const { onSocketDrain } = require('./connecting');

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
// Why a write's callback fails when its message never reached the socket.
const SENT_TOO_LATE = 'The session closed before the message was sent';

function toBuffer(chunk) {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (typeof chunk === 'string') return Buffer.from(chunk);
  if (ArrayBuffer.isView(chunk)) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  return null;
}

/**
 * A session's sending state. Made on its first write: a session that never
 * writes (an idle server's many) holds none of it.
 */
class Writer {
  constructor() {
    this.batch = null; // framed small messages not yet given to the socket
    this.used = 0; // bytes of `batch` in use
    this.size = BATCH_MIN; // the next batch's size
    this.callbacks = null; // write callbacks of the messages in `batch`
    this.flushScheduled = false; // the batch goes out on the next tick, or after delivery
    this.flushAfterPump = false; // ... after delivery: _pump sends it when it is done
    this.drainListened = false; // the socket's 'drain' has a listener (see _awaitDrain)
  }
}

// Where the core's queued control frames are taken, one for all sessions
// (JS runs one call at a time): MAX_CONTROL_FRAME fits any of them.
const queued = Buffer.alloc(MAX_CONTROL_FRAME);

function flushBatchSoon(session) {
  session._writer.flushScheduled = false;
  if (session._socket === null || session._terminated) return;
  // A socket that closed while messages were held (the session ends once
  // they are delivered) takes no more writes: their callbacks learn why.
  if (session._socketClosed) session._dropBatch(netbiosError(codes.NOT_CONNECTED, SENT_TOO_LATE));
  else session._flushBatch();
}

const methods = {
  /** The session's Writer, made on first use. */
  _writing() {
    if (this._writer === null) this._writer = new Writer();
    return this._writer;
  },

  /** Appends one framed message to the batch; true while the caller may keep writing. */
  _writeBatched(payload, length, callback) {
    const writer = this._writing();
    const need = HEADER_LENGTH + length;
    let batch = writer.batch;
    if (batch !== null && writer.used + need > batch.length) {
      // Full: send it now and take a larger one next (this is a bulk writer).
      this._flushBatch();
      writer.size = Math.min(writer.size * 2, BATCH_MAX);
      batch = null;
    }
    if (batch === null) {
      batch = writer.batch = Buffer.allocUnsafe(Math.max(need, writer.size));
      if (!writer.flushScheduled) {
        writer.flushScheduled = true;
        // A write from a 'message' handler (an echo, a reply) goes out as
        // soon as the chunk's messages are delivered, with the other
        // replies to that chunk; any other waits for the end of the tick.
        if (this._pumping) writer.flushAfterPump = true;
        else process.nextTick(flushBatchSoon, this);
      }
    }
    const at = writer.used;
    // Only the length here; the core turns it into the header at flush.
    batch.writeUInt32BE(length, at);
    // TypedArray#set, not Buffer#copy: V8 copies inline, where copy() calls
    // into Node's C++ (1 KiB: 51 ns against 163 ns, measured).
    batch.set(payload, at + HEADER_LENGTH);
    writer.used = at + need;
    if (callback !== null) {
      if (writer.callbacks === null) writer.callbacks = [callback];
      else writer.callbacks.push(callback);
    }
    // The batch is the session's own buffer, bounded (BATCH_MAX): it goes
    // out when full and at the end of the tick. So, as with a plain socket
    // that hands each write to the kernel at once, the caller waits only
    // when the socket itself is full. (Counting the batch against the
    // socket's high-water mark sent messages of 16 KiB one per tick, each
    // in a write of its own.)
    const socket = this._socket;
    if (socket.writableLength < socket.writableHighWaterMark) return true;
    // The socket refused a write to get here, so its 'drain' will come.
    this._awaitDrain();
    return false;
  },

  /** Writes the core's SESSION MESSAGE header for `length` into `target` at `offset`. */
  _frame(length, target, offset) {
    // Length and state were checked in write(): the core agrees (it throws if not).
    table.messageHeader(this._native, length, target, offset);
  },

  /** Hands the pending batch to the socket (before any other write, to keep order). */
  _flushBatch() {
    const writer = this._writer;
    if (writer === null || writer.batch === null) return;
    const { batch, used, callbacks } = writer;
    writer.batch = null;
    writer.used = 0;
    writer.callbacks = null;
    // Lengths and state were checked in write(): the core agrees (it throws if not).
    table.frameBatch(this._native, batch, used);
    const bytes = used === batch.length ? batch : batch.subarray(0, used);
    const accepted = this._socket.write(bytes, callbacks === null ? undefined : (error) => {
      for (const callback of callbacks) callback(error);
    });
    if (!accepted) this._awaitDrain();
  },

  /**
   * Listens for the socket's 'drain', which follows a write it refused.
   * Added on the first refusal only: most sessions never fill a socket, and
   * each listener costs an idle session memory.
   */
  _awaitDrain() {
    const writer = this._writing();
    if (writer.drainListened) return;
    writer.drainListened = true;
    this._socket.on('drain', onSocketDrain);
  },

  /** Fails the callbacks of a batch that will never be written. */
  _dropBatch(error) {
    const writer = this._writer;
    if (writer === null) return;
    const { callbacks } = writer;
    writer.batch = null;
    writer.used = 0;
    writer.callbacks = null;
    if (callbacks !== null) process.nextTick(() => callbacks.forEach((callback) => callback(error)));
  },

  _onDrain() {
    this._emit('drain');
  },

  /** The control frame the core queued (a request, an answer, a keep-alive), or null. */
  _takeQueued() {
    const length = table.takeTransmit(this._native, queued);
    // Copied out at its size: a slice of a larger buffer would keep the
    // rest of its allocation (Buffer's shared pool) alive while it is sent.
    return length === 0 ? null : Buffer.from(queued.subarray(0, length));
  },

  /** Sends the control frame the core queued, if any; `frame` names it for tracing. */
  _sendQueued(frame) {
    const bytes = this._takeQueued();
    if (bytes === null) return;
    if (TRACING) this._trace('send', frame, bytes.length - HEADER_LENGTH);
    this._flushBatch();
    this._socket.write(bytes);
  },

  _writeFailed(length, callback) {
    // The core's refusal, with its text (0.1.6's).
    let message = '';
    try {
      table.messageHeader(this._native, length, Buffer.allocUnsafe(HEADER_LENGTH), 0);
    } catch (refused) {
      message = refused.message;
    }
    const error = netbiosError(codes.MESSAGE_TOO_LONG, message);
    // 0.1.6 both emitted 'error' and called back for an oversized message.
    process.nextTick(() => {
      this._emit('error', error);
      if (callback) callback(error);
    });
    return false;
  },
};

module.exports = {
  methods,
  BATCH_MESSAGE_LIMIT,
  SENT_TOO_LATE,
  toBuffer,
  flushBatchSoon,
};
