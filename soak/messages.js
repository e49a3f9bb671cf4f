'use strict';
// The messages the load and soak runs send: each carries the sending
// session's id, a sequence number, its own length and a CRC-32 of its
// payload, so any receiver can tell a lost, corrupted, reordered or
// foreign message without keeping a copy of what was sent.
//
//   bytes 0..3    session id        (u32 BE)
//   bytes 4..7    sequence number   (u32 BE, from 0, one per message)
//   bytes 8..11   message length    (u32 BE, this header included)
//   bytes 12..15  CRC-32 of bytes 16.. (0 for an empty payload)
//   bytes 16..    payload, cut from a fixed pseudo-random pool
//
// A message shorter than 16 bytes is the first bytes of its header (down
// to the empty message). Lengths are drawn per (session, sequence) from a
// hash, so the sender and any checker agree on them without talking.

const zlib = require('zlib');
const crypto = require('crypto');

const HEADER = 16;
const MAX_LENGTH = 131071;
const POOL_SIZE = 1 << 18;

/** A 32-bit hash of two numbers (murmur3's finaliser on a combination). */
function hash(a, b) {
  let h = (Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x632be5ab, 0xc2b2ae35)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const POOL = Buffer.allocUnsafe(POOL_SIZE + MAX_LENGTH + 1); // a multiple of 4
for (let i = 0; i < POOL.length; i += 4) POOL.writeUInt32BE(hash(i, 0x5eed), i);

const crc32 =
  typeof zlib.crc32 === 'function'
    ? (bytes) => zlib.crc32(bytes) >>> 0
    : (bytes) => crypto.createHash('sha1').update(bytes).digest().readUInt32BE(0);

/** The length of message `seq` of session `id`: 0 to `maxLength`. */
function messageLength(id, seq, maxLength) {
  return hash(id, seq) % (maxLength + 1);
}

/** Builds message `seq` of session `id` (a new Buffer). */
function makeMessage(id, seq, maxLength) {
  const length = messageLength(id, seq, maxLength);
  const message = Buffer.allocUnsafe(length);
  const header = Buffer.allocUnsafe(HEADER);
  let crc = 0;
  if (length > HEADER) {
    const offset = hash(seq, id) % POOL_SIZE;
    POOL.copy(message, HEADER, offset, offset + length - HEADER);
    crc = crc32(message.subarray(HEADER));
  }
  header.writeUInt32BE(id, 0);
  header.writeUInt32BE(seq, 4);
  header.writeUInt32BE(length, 8);
  header.writeUInt32BE(crc, 12);
  header.copy(message, 0, 0, Math.min(HEADER, length));
  return message;
}

/**
 * Checks a received message against what session `id` sends as number
 * `seq`: null if it is that message intact, else what is wrong. With
 * `maxLength` the length is checked against the sender's draw too.
 */
function checkMessage(message, id, seq, maxLength) {
  const length = message.length;
  if (maxLength !== undefined && length !== messageLength(id, seq, maxLength)) {
    return `session ${id} message ${seq}: ${length} bytes, expected ${messageLength(id, seq, maxLength)}`;
  }
  const expected = Buffer.allocUnsafe(HEADER);
  expected.writeUInt32BE(id, 0);
  expected.writeUInt32BE(seq, 4);
  expected.writeUInt32BE(length, 8);
  if (length <= HEADER) {
    expected.writeUInt32BE(0, 12);
    return message.equals(expected.subarray(0, length)) ? null : `session ${id} message ${seq}: short message differs`;
  }
  if (message.readUInt32BE(0) !== id) return `session ${id} message ${seq}: from session ${message.readUInt32BE(0)}`;
  if (message.readUInt32BE(4) !== seq) return `session ${id}: message ${message.readUInt32BE(4)} arrived where ${seq} was due`;
  if (message.readUInt32BE(8) !== length) return `session ${id} message ${seq}: says ${message.readUInt32BE(8)} bytes, has ${length}`;
  if (crc32(message.subarray(HEADER)) !== message.readUInt32BE(12)) return `session ${id} message ${seq}: checksum mismatch`;
  return null;
}

module.exports = { HEADER, MAX_LENGTH, hash, crc32, messageLength, makeMessage, checkMessage };
