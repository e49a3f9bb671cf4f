'use strict';
// The examples are part of the documentation: they must run as shown.

const test = require('node:test');
const assert = require('node:assert/strict');
const { spawn, spawnSync } = require('child_process');
const path = require('path');

const NetbiosSession = require('..');
const { listen, nextEvent, closedPort } = require('./helpers');

const examples = path.join(__dirname, '..', 'examples');

test('npm start (examples/demo.js) completes a session and exits 0', () => {
  const result = spawnSync(process.execPath, [path.join(examples, 'demo.js')], { encoding: 'utf8', timeout: 20000 });
  assert.equal(result.status, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /session completed: 3 messages echoed/);
  assert.doesNotMatch(result.stdout, /CORRUPTED|FAILED/);
});

async function startForwarder(args) {
  const child = spawn(process.execPath, [path.join(examples, 'netbios-fwd.js'), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  while (!output.includes('netbios-fwd:')) await nextEvent(child.stdout, 'data', 10000);
  return child;
}

for (const directIn of [false, true]) {
  test(`examples/netbios-fwd.js forwards ${directIn ? 'direct TCP' : 'NetBIOS'} in to direct TCP out, both ways`, async (t) => {
    // The target: a direct-TCP echo server.
    const { server: target, port: targetPort } = await listen((socket) => {
      const session = new NetbiosSession({ direct: true });
      session.attach(socket);
      session.on('message', (message) => session.write(message));
      session.on('error', () => {});
    });
    const listenPort = await closedPort();
    const args = ['--listen', String(listenPort), '--to', `127.0.0.1:${targetPort}`];
    const forwarder = await startForwarder(directIn ? [...args, '--direct-in'] : args);
    t.after(() => {
      forwarder.kill();
      target.close();
    });

    const client = new NetbiosSession({ direct: directIn });
    await new Promise((resolve, reject) => {
      const done = (error) => (error ? reject(error) : resolve());
      if (directIn) client.connect(listenPort, '127.0.0.1', done);
      else client.connect(listenPort, '127.0.0.1', 'TARGET', 'CLIENT', done);
    });
    // Past 128 KiB only where both sides speak 24-bit lengths.
    const sizes = directIn ? [1, 70000, 1000000] : [1, 70000, 131071];
    for (const size of sizes) {
      const payload = Buffer.alloc(size, size & 0xff);
      const echoed = nextEvent(client, 'message', 10000);
      client.write(payload);
      const [message] = await echoed;
      assert.ok(message.equals(payload), `${size}-byte message came back intact`);
    }
    client.end();
    await nextEvent(client, 'close');
  });
}
