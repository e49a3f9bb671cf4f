'use strict';
// Small loopback helpers for the soak and load runs (the tests' helpers.js
// stays test-only): listening, NetBIOS name encoding, raw frames.

const net = require('net');

/** A TCP server on 127.0.0.1 with an OS-chosen port. */
function listen(onConnection, { backlog = 511 } = {}) {
  return new Promise((resolve, reject) => {
    const server = net.createServer(onConnection);
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1', backlog }, () => {
      server.off('error', reject);
      resolve({ server, port: server.address().port });
    });
  });
}

/** Second-level encoding of a NetBIOS name without scope (RFC 1001 section 14). */
function encodeName(name, suffix) {
  const raw = Buffer.alloc(16, 0x20);
  raw.write(name, 0, 'latin1');
  raw[15] = suffix;
  const out = [0x20];
  for (const byte of raw) out.push(0x41 + (byte >> 4), 0x41 + (byte & 0x0f));
  out.push(0);
  return Buffer.from(out);
}

/** A SESSION REQUEST for `called`<20> from `calling`<00>. */
function requestFrame(called, calling) {
  const trailer = Buffer.concat([encodeName(called, 0x20), encodeName(calling, 0x00)]);
  return Buffer.concat([Buffer.from([0x81, 0, 0, trailer.length]), trailer]);
}

/** Resolves with the first `n` bytes `socket` receives (it must not be read elsewhere). */
function readBytes(socket, n) {
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0);
    const onData = (chunk) => {
      got = Buffer.concat([got, chunk]);
      if (got.length >= n) {
        cleanup();
        resolve(got.subarray(0, n));
      }
    };
    const onEnd = () => {
      cleanup();
      reject(new Error(`stream ended after ${got.length} of ${n} bytes`));
    };
    const cleanup = () => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
    };
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
  });
}

module.exports = { listen, encodeName, requestFrame, readBytes };
