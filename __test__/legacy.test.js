'use strict';
// COMPAT.md difference 6: RFC 1002's length bit (0x01) by default, 0.1.6's
// (0x80) by opt-in with legacyLengthBit.

const test = require('node:test');
const assert = require('node:assert/strict');

const NetbiosSession = require('..');
const { listen, closed, echoCalledNode } = require('./helpers');

test('COMPAT 6: legacyLengthBit reads and writes 0.1.6 frames (E bit 0x80): 70000 bytes -> 00 80 11 70', async () => {
  const { server, client, clientReader } = await echoCalledNode({ legacyLengthBit: true }, { ignoreErrors: true });
  const payload = Buffer.alloc(70000, 0x5a);
  client.write(Buffer.concat([Buffer.from([0x00, 0x80, 0x11, 0x70]), payload]));
  assert.deepEqual([...(await clientReader.read(4))], [0x00, 0x80, 0x11, 0x70]);
  assert.ok((await clientReader.read(70000)).equals(payload));
  client.end();
  await closed(client);
  server.close();
});

test('COMPAT 6: by default the E bit is 0x01; a 0.1.6-style 0x80 frame is a protocol error', async () => {
  const { server, client, clientReader, sessions } = await echoCalledNode({}, { ignoreErrors: true });
  const payload = Buffer.alloc(70000, 0x33);
  client.write(Buffer.concat([Buffer.from([0x00, 0x01, 0x11, 0x70]), payload]));
  assert.deepEqual([...(await clientReader.read(4))], [0x00, 0x01, 0x11, 0x70]);
  assert.ok((await clientReader.read(70000)).equals(payload));
  const failed = new Promise((resolve) => sessions[0].once('error', resolve));
  client.write(Buffer.from([0x00, 0x80, 0x11, 0x70]));
  const error = await failed;
  assert.equal(error.code, 'ERR_NETBIOS_PROTOCOL');
  assert.match(error.message, /FLAGS 0x80: reserved bits 0x80 are set/);
  assert.match(error.message, /netbios-session 0\.1\.6/);
  assert.match(error.message, /set legacyLengthBit/, 'the error names the likely fix');
  await closed(client);
  server.close();
});

test('COMPAT 6: two legacy sessions exchange 64 KiB+ messages with each other', async () => {
  const { server, port } = await listen((socket) => {
    const session = new NetbiosSession({ legacyLengthBit: true, autoAccept: true });
    session.attach(socket);
    session.on('message', (message) => session.write(message));
  });
  const caller = new NetbiosSession({ legacyLengthBit: true });
  await new Promise((resolve, reject) =>
    caller.connect(port, '127.0.0.1', 'SRV', 'CLI', (error) => (error ? reject(error) : resolve()))
  );
  const payload = Buffer.alloc(131071, 0x11);
  const echoed = new Promise((resolve) => caller.once('message', resolve));
  caller.write(payload);
  assert.ok((await echoed).equals(payload));
  caller.end();
  await new Promise((resolve) => caller.once('close', resolve));
  server.close();
});
