'use strict';
// The server of the load and soak runs, in its own process (forked by
// soak/harness.js, with an IPC channel): NetBIOS called nodes on
// 127.0.0.1 that accept every SESSION REQUEST, check every message they
// receive (the calling name C<id> says which session it is; see
// soak/messages.js), echo it back with backpressure, and report counts,
// memory and active handles when asked.

const NetbiosSession = require('..');
const { listen } = require('./net-util');
const { checkMessage } = require('./messages');

const stats = {
  accepted: 0, // sessions established
  closed: 0, // sessions that emitted 'close'
  messages: 0, // messages received and intact
  bytes: 0,
  bad: 0, // messages lost, corrupted, reordered or foreign
  problems: [], // the first few descriptions
  errors: {}, // 'error' events by code
};

function problem(text) {
  stats.bad += 1;
  if (stats.problems.length < 20) stats.problems.push(text);
}

function onSocket(socket) {
  const session = new NetbiosSession({ requestTimeout: 60000 });
  let id = null;
  let seq = 0;
  session.attach(socket, (error, request) => {
    if (error) {
      stats.errors[error.code || 'attach'] = (stats.errors[error.code || 'attach'] || 0) + 1;
      return;
    }
    const name = request.callFrom.name;
    // C<id>: a checked client; R<id>: a client that resets mid-frame (anything it sends is a problem).
    id = name[0] === 'C' ? Number(name.slice(1)) : -1;
    request.accept();
  });
  session.on('connect', () => {
    stats.accepted += 1;
  });
  session.on('message', (message) => {
    if (id < 0) {
      problem(`a message of ${message.length} bytes from a client that only sends a cut frame`);
      return;
    }
    const bad = checkMessage(message, id, seq);
    seq += 1;
    if (bad) {
      problem(bad);
      return;
    }
    stats.messages += 1;
    stats.bytes += message.length;
    if (!session.write(message)) {
      session.pause();
      session.once('drain', () => session.resume());
    }
  });
  session.on('error', (error) => {
    stats.errors[error.code] = (stats.errors[error.code] || 0) + 1;
  });
  session.on('close', () => {
    stats.closed += 1;
  });
}

/** Live handles and requests by type (process.getActiveResourcesInfo()). */
function handles() {
  const counts = {};
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] || 0) + 1;
  return counts;
}

async function main() {
  const { server, port } = await listen(onSocket, { backlog: 2048 });
  server.on('error', (error) => {
    stats.errors[`server ${error.code}`] = (stats.errors[`server ${error.code}`] || 0) + 1;
  });
  process.on('message', async (request) => {
    if (request.type === 'stats') {
      if (request.gc && global.gc) {
        // Let closes and frees settle, then collect twice (weak callbacks run in between).
        for (let i = 0; i < 3; i++) {
          await new Promise((resolve) => setImmediate(resolve));
          global.gc();
        }
      }
      process.send({
        type: 'stats',
        stats: { ...stats, problems: stats.problems.slice() },
        memory: process.memoryUsage(),
        handles: handles(),
      });
    } else if (request.type === 'exit') {
      server.close();
      process.disconnect();
    }
  });
  process.send({ type: 'listening', port });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
