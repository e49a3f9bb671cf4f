'use strict';
// The receiving side of __test__/flood.test.js, in its own process so the
// test runner's memory does not blur the figures. Listens on 127.0.0.1,
// accepts one session started paused, and reports over IPC:
//   {type: 'listening', port}
//   {type: 'baseline', rss}              once established (after GC), before the flood
//   {type: 'measured', rss, bytesRead}   on {type: 'measure'}: after GC, while still paused
//   {type: 'done', ...}                  after {type: 'resume'}: every message checked
//                                        (soak/messages.js), a SHA-256 of them all, RSS at the end
// Run with --expose-gc.

const crypto = require('crypto');
const NetbiosSession = require('..');
const { listen } = require('./net-util');
const { checkMessage } = require('./messages');

const settle = () => new Promise((resolve) => setImmediate(resolve));
async function collectedRss() {
  for (let i = 0; i < 3; i++) {
    await settle();
    global.gc();
  }
  return process.memoryUsage().rss;
}

let socket = null;
const session = new NetbiosSession({ paused: true, autoAccept: true, requestTimeout: 20000 });
const digest = crypto.createHash('sha256');
let messages = 0;
let bytes = 0;
let bad = null;
session.on('message', (message) => {
  const problem = checkMessage(message, 1, messages);
  if (problem && !bad) bad = problem;
  digest.update(message);
  messages += 1;
  bytes += message.length;
});
session.on('error', (error) => process.send({ type: 'error', code: error.code, message: error.message }));
session.on('connect', async () => {
  process.send({ type: 'baseline', rss: await collectedRss() });
});
session.on('end', async () => {
  const rss = process.memoryUsage().rss;
  process.send({ type: 'done', messages, bytes, digest: digest.digest('hex'), bad, rssAtEnd: rss, rssAfterGc: await collectedRss() });
});

process.on('message', async (request) => {
  if (request.type === 'measure') {
    process.send({ type: 'measured', rss: await collectedRss(), bytesRead: socket.bytesRead });
  } else if (request.type === 'resume') {
    session.resume();
  } else if (request.type === 'exit') {
    process.exit(0);
  }
});

listen((accepted) => {
  socket = accepted;
  session.attach(accepted);
}).then(({ server, port }) => {
  server.maxConnections = 1;
  process.send({ type: 'listening', port });
});
