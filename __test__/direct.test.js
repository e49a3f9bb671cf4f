'use strict';
// COMPAT.md differences 8 and 6: direct mode's 24-bit framing, the
// maxMessageLength cap, 24-bit messages on port 139 by opt-in, bounded memory.

const test = require('node:test');
const assert = require('node:assert/strict');

const NetbiosSession = require('..');
const { rawServer, reader, nextEvent, closed, pattern, echoCalledNode } = require('./helpers');

async function directPair(options = {}) {
  const raw = await rawServer();
  const session = new NetbiosSession({ direct: true, ...options });
  await new Promise((resolve, reject) =>
    session.connect(raw.port, '127.0.0.1', (error) => (error ? reject(error) : resolve()))
  );
  const peer = await raw.accepted();
  return { raw, session, peer, peerReader: reader(peer) };
}

test('COMPAT 8: direct instances report MAX_MESSAGE_LENGTH 16777215; the static stays 131071', () => {
  assert.equal(new NetbiosSession({ direct: true }).MAX_MESSAGE_LENGTH, 16777215);
  assert.equal(NetbiosSession.MAX_MESSAGE_LENGTH, 131071);
  assert.equal(new NetbiosSession({ direct: true, maxMessageLength: 65536 }).MAX_MESSAGE_LENGTH, 65536);
  assert.equal(new NetbiosSession({ maxMessageLength: 4000080 }).MAX_MESSAGE_LENGTH, 4000080);
});

test('COMPAT 8: direct mode writes and reads a 4,000,080-byte frame (24-bit length 00 3d 09 50)', async () => {
  const { raw, session, peer, peerReader } = await directPair();
  const payload = pattern(4000080);
  session.write(payload);
  assert.deepEqual([...(await peerReader.read(4))], [0x00, 0x3d, 0x09, 0x50]);
  assert.ok((await peerReader.read(payload.length)).equals(payload));

  const received = nextEvent(session, 'message', 10000);
  const reply = pattern(4000080, 3);
  peer.write(Buffer.concat([Buffer.from([0x00, 0x3d, 0x09, 0x50]), reply]));
  const [message] = await received;
  assert.equal(message.length, reply.length);
  assert.ok(message.equals(reply));
  session.end();
  await closed(peer);
  raw.close();
});

test('COMPAT 8: maxMessageLength caps what a direct session accepts and sends', async () => {
  const { raw, session, peer } = await directPair({ maxMessageLength: 1000 });
  const writeError = await new Promise((resolve) => {
    session.once('error', () => {});
    session.write(Buffer.alloc(1001), resolve);
  });
  assert.equal(writeError.code, 'ERR_NETBIOS_MESSAGE_TOO_LONG');
  assert.equal(writeError.message, 'Message length [1001] exceeds maximum [1000]');

  const failed = nextEvent(session, 'error');
  peer.write(Buffer.from([0x00, 0x00, 0x03, 0xe9, 1, 2, 3]));
  const [error] = await failed;
  assert.equal(error.code, 'ERR_NETBIOS_PROTOCOL');
  assert.match(error.message, /1001 bytes; expected at most 1000/);
  await closed(peer);
  raw.close();
});

test('COMPAT 8: maxMessageLength above 131071 on port 139 makes established messages 24-bit both ways', async () => {
  const { server, client, clientReader } = await echoCalledNode({ maxMessageLength: 4000080 });
  const payload = pattern(200000);
  client.write(Buffer.concat([Buffer.from([0x00, 0x03, 0x0d, 0x40]), payload]));
  assert.deepEqual([...(await clientReader.read(4))], [0x00, 0x03, 0x0d, 0x40]);
  assert.ok((await clientReader.read(payload.length)).equals(payload));
  client.end();
  await closed(client);
  server.close();
});

test('COMPAT 8: a declared length is not allocated up front; memory grows only with bytes received', async () => {
  const raw = await rawServer();
  const sessions = [];
  const peers = [];
  global.gc && global.gc();
  const before = process.memoryUsage();
  for (let i = 0; i < 20; i++) {
    const session = new NetbiosSession({ direct: true });
    session.on('error', () => {});
    await new Promise((resolve, reject) => session.connect(raw.port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
    const peer = await raw.accepted();
    // Declares 16 MiB - 1, sends 10 bytes of it.
    peer.write(Buffer.from([0x00, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
    sessions.push(session);
    peers.push(peer);
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
  const after = process.memoryUsage();
  // Trusting the headers would take 20 x 16 MiB = 320 MiB.
  const grownMiB = (after.rss - before.rss) / 1048576;
  const externalMiB = (after.arrayBuffers - before.arrayBuffers) / 1048576;
  assert.ok(grownMiB < 64, `RSS grew by ${grownMiB.toFixed(1)} MiB`);
  assert.ok(externalMiB < 16, `ArrayBuffers grew by ${externalMiB.toFixed(1)} MiB`);
  for (const session of sessions) session.end();
  for (const peer of peers) peer.destroy();
  raw.close();
});
