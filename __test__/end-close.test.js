'use strict';
// end() behaves like net.Socket#end(): the session keeps the event loop
// alive until 'close', so a process (or a node:test test) waiting for
// 'close' gets it; a peer that never closes is cut off by the close
// timeout; destroy() ends at once. Each case runs in a child process,
// whose exit is what is being tested.

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('path');

const { REQUEST, POSITIVE, runProcess } = require('./helpers');

const ROOT = path.join(__dirname, '..');
// RFC 1002's SSN_CLOSE_TIMEOUT, which bounds how long end() waits.
const CLOSE_TIMEOUT = 30000;

/**
 * A child that connects to a peer it starts itself: `peer` is the body of
 * its connection handler (`socket` in scope), `after` runs once the session
 * is established (`session` in scope). It prints what happens, in order.
 */
function child(peer, after, timeout) {
  const script = `
    const net = require('net');
    const NetbiosSession = require(${JSON.stringify(ROOT)});
    const POSITIVE = Buffer.from('${POSITIVE.toString('hex')}', 'hex');
    const REQUEST_LENGTH = ${REQUEST.length};
    const server = net.createServer({ allowHalfOpen: true }, (socket) => { ${peer} });
    server.listen(0, '127.0.0.1', () => {
      const session = new NetbiosSession();
      session.on('close', () => console.log('close'));
      session.connect(server.address().port, '127.0.0.1', 'DST', 'SRC', (error) => {
        if (error) throw error;
        console.log('established');
        server.close();
        ${after}
      });
    });
    process.on('exit', () => console.log('exit'));
  `;
  return runProcess(process.execPath, ['-e', script], { timeout });
}

// A peer that answers the request and closes when the caller ends.
const CLOSING_PEER = `
  socket.once('data', () => socket.write(POSITIVE));
  socket.on('end', () => socket.end());
`;
// A peer that answers the request and then never closes its side.
const SILENT_PEER = `
  socket.once('data', () => socket.write(POSITIVE));
  socket.on('error', () => {});
`;

test("end() then once(session, 'close') passes under node --test with the server closed", async () => {
  const fixture = path.join(__dirname, 'fixtures', 'end-then-close.fixture.js');
  // As a user runs it: not as a child of this test runner.
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const result = await runProcess(process.execPath, ['--test', fixture], { timeout: 20000, env });
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /\bpass 1\b/, 'one test passed (in the TAP or the spec reporter)');
  assert.doesNotMatch(result.stdout, /Promise resolution is still pending/);
});

/** The child exited by itself, with code 0, once 'close' had been emitted. */
function assertClosedThenExited(result, timeout) {
  assert.equal(result.timedOut, false, `still running ${timeout} ms later`);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(result.stdout.trim().split('\n'), ['established', 'close', 'exit']);
}

test("a process that ends its session exits by itself, once 'close' has been emitted", async () => {
  assertClosedThenExited(await child(CLOSING_PEER, 'session.end();', 20000), 20000);
});

test('a process whose peer never closes exits within the close timeout, after close', async () => {
  const timeout = CLOSE_TIMEOUT + 15000;
  assertClosedThenExited(await child(SILENT_PEER, 'session.end();', timeout), timeout);
});

test('destroy() ends at once: the process exits without waiting for the peer', async () => {
  assertClosedThenExited(await child(SILENT_PEER, 'session.destroy();', 10000), 10000);
});

test('an established session that is not ended keeps the process alive, as a socket does; nothing else does', async () => {
  // Without end(), the child stays up (the socket is open) until killed.
  const running = await child(SILENT_PEER, '', 3000);
  assert.equal(running.timedOut, true);
  assert.deepEqual(running.stdout.trim().split('\n'), ['established']);
  // A session that never connected holds nothing.
  const idle = await runProcess(process.execPath, ['-e', `
    const NetbiosSession = require(${JSON.stringify(ROOT)});
    new NetbiosSession({ idleTimeout: 60000, keepAlive: 60000 });
    process.on('exit', () => console.log('exit'));
  `], { timeout: 10000 });
  assert.equal(idle.timedOut, false);
  assert.equal(idle.stdout.trim(), 'exit');
});
