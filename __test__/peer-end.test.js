'use strict';
// When the peer ends an established session: a plain TCP socket that takes
// no more writes is closed as 'end' is emitted, so our FIN leaves at once;
// everything else (replies still queued, half-open sockets, TLS, other
// streams) keeps the orderly end it had.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const net = require('net');
const path = require('path');
const tls = require('tls');

const NetbiosSession = require('..');
const {
  listen,
  nextEvent,
  reader,
  messageFrame,
  pattern,
  duplexPair,
  establishedCalled,
  attachedDirect,
} = require('./helpers');

// A self-signed certificate for 127.0.0.1, made for these tests with
// `openssl req -x509 -newkey ec -days 36500` (valid until 2126).
const FIXTURES = path.join(__dirname, 'fixtures');

/** Whether `socket` is destroyed on the tick after `session`'s next 'end' (its listeners have all run by then). */
function destroyedAfterEnd(session, socket) {
  return new Promise((resolve) => {
    session.once('end', () => process.nextTick(() => resolve(socket.destroyed)));
  });
}

test("peer end: a TCP session closes its socket as 'end' is emitted; the peer sees an orderly close", async (t) => {
  const c = await establishedCalled(t, {});
  const clientErrors = [];
  c.client.on('error', (error) => clientErrors.push(error));
  const destroyed = destroyedAfterEnd(c.session, c.socket);
  const clientClosed = nextEvent(c.client, 'close');
  c.client.end();
  assert.equal(await destroyed, true, 'closed without waiting for the next tick');
  const [hadError] = await clientClosed;
  assert.equal(hadError, false);
  assert.deepEqual(await c.clientIn.rest(), Buffer.alloc(0), 'the peer got a FIN and nothing else');
  await c.events.count('close', 1);
  assert.deepEqual(
    c.events.log.map((entry) => entry.event),
    ['connect', 'end', 'close']
  );
  assert.deepEqual(clientErrors, []);
});

test('peer end: a reply still queued in the socket is sent in full, then the FIN', async (t) => {
  const reply = pattern(12 * 1024 * 1024, 7);
  let sawEnd;
  const queuedAtEnd = new Promise((resolve) => {
    sawEnd = resolve;
  });
  const sessionErrors = [];
  const { server, port } = await listen((socket) => {
    const session = new NetbiosSession({ direct: true });
    session.on('error', (error) => sessionErrors.push(error));
    session.on('message', () => session.write(reply));
    session.on('end', () => sawEnd(socket.writableLength));
    session.attach(socket);
  });
  t.after(() => server.close());
  // The client reads nothing until the session has seen its end, so most of
  // the reply is still queued in Node when the FIN arrives.
  const client = net.connect({ port, host: '127.0.0.1' });
  client.on('error', (error) => sessionErrors.push(error));
  client.pause();
  await nextEvent(client, 'connect');
  client.end(messageFrame(Buffer.from('send me the file')));
  assert.ok((await queuedAtEnd) > 0, 'precondition: part of the reply was still queued at the peer end');
  const clientIn = reader(client);
  client.resume();
  const received = await clientIn.rest();
  assert.equal(received.length, 4 + reply.length);
  assert.equal(received.readUInt32BE(0), reply.length, 'direct-mode header');
  assert.ok(received.subarray(4).equals(reply), 'every byte of the reply arrived');
  assert.deepEqual(sessionErrors, []);
});

test("peer end: a reply written in an 'end' listener still goes out, then the FIN", async (t) => {
  const results = [];
  const { server, port } = await listen((socket) => {
    const session = new NetbiosSession({ direct: true });
    session.on('error', (error) => results.push(error));
    session.on('end', () => session.write(Buffer.from('last word'), (error) => results.push(error ?? 'sent')));
    session.attach(socket);
  });
  t.after(() => server.close());
  const client = net.connect({ port, host: '127.0.0.1' });
  client.on('error', (error) => results.push(error));
  const clientIn = reader(client);
  await nextEvent(client, 'connect');
  client.end();
  assert.deepEqual(await clientIn.rest(), messageFrame(Buffer.from('last word')));
  assert.deepEqual(results, ['sent']);
});

test("peer end: a half-open socket (allowHalfOpen) stays open; a reply written after 'end' reaches the peer", async (t) => {
  const server = net.createServer({ allowHalfOpen: true });
  const accepted = nextEvent(server, 'connection');
  server.listen(0, '127.0.0.1');
  await nextEvent(server, 'listening');
  t.after(() => server.close());
  const client = net.connect({ port: server.address().port, host: '127.0.0.1', allowHalfOpen: true });
  client.on('error', (error) => assert.fail(error));
  const clientIn = reader(client);
  await nextEvent(client, 'connect');
  const [socket] = await accepted;
  const session = await attachedDirect(socket);
  session.on('end', () => {
    session.write(Buffer.from('goodbye'));
    session.end();
  });
  const destroyed = destroyedAfterEnd(session, socket);
  client.end();
  assert.equal(await destroyed, false);
  assert.deepEqual(await clientIn.rest(), messageFrame(Buffer.from('goodbye')));
  client.destroy();
});

test("peer end: a TLS socket is not cut short: it closes with the TLS close it owes its peer", async (t) => {
  const server = tls.createServer({
    key: fs.readFileSync(path.join(FIXTURES, 'tls-key.pem')),
    cert: fs.readFileSync(path.join(FIXTURES, 'tls-cert.pem')),
  });
  const accepted = nextEvent(server, 'secureConnection');
  server.listen(0, '127.0.0.1');
  await nextEvent(server, 'listening');
  t.after(() => server.close());
  const client = tls.connect({ port: server.address().port, host: '127.0.0.1', rejectUnauthorized: false });
  client.on('error', (error) => assert.fail(error));
  const clientIn = reader(client);
  await nextEvent(client, 'secureConnect');
  const [socket] = await accepted;
  const session = await attachedDirect(socket);
  const destroyed = destroyedAfterEnd(session, socket);
  const sessionClosed = nextEvent(session, 'close');
  client.end();
  assert.equal(await destroyed, false, 'a TLS socket gets its orderly end');
  assert.deepEqual(await clientIn.rest(), Buffer.alloc(0));
  await sessionClosed;
  client.destroy();
});

test('peer end: a stream that is not a TCP socket gets its orderly end, even when it is not half-open', async () => {
  const [local, remote] = duplexPair();
  local.allowHalfOpen = false;
  const session = await attachedDirect(local);
  const destroyed = destroyedAfterEnd(session, local);
  const localFinished = nextEvent(local, 'finish');
  remote.end();
  assert.equal(await destroyed, false);
  // Node ends the writable side itself, as it always did for such streams.
  await localFinished;
  session.destroy();
});
