'use strict';
// A caller's first messages pipelined behind its SESSION REQUEST (in the
// same write, before the answer), as Samba's smbd accepts them: held, then
// delivered in order right after 'connect' when the request is accepted,
// however and whenever it is; dropped with the connection when it is not.

const test = require('node:test');
const assert = require('node:assert/strict');

const { REQUEST, POSITIVE, messageFrame, fromHex, nextEvent, settle, calledWithRawClient, watchUncaught } = require('./helpers');

const MESSAGES = ['first', 'second', 'third'].map((text) => Buffer.from(text));
const PIPELINED = Buffer.concat([REQUEST, ...MESSAGES.map(messageFrame)]);

/** A called node answering with `answer(request, session)`; the raw client writes PIPELINED in one write. */
async function pipelinedTo(t, options, answer) {
  const c = await calledWithRawClient(t, options, (session, socket) => {
    session.attach(socket, (error, request) => {
      assert.equal(error, null);
      answer(request, session);
    });
  });
  c.client.write(PIPELINED);
  return c;
}

function delivered(c) {
  return c.events.of('message').map(([message]) => String(message));
}

test('a request plus three messages in one write, accepted inside the callback: all three after connect, in order', async (t) => {
  const uncaught = watchUncaught(t);
  const c = await pipelinedTo(t, null, (request) => request.accept());
  assert.deepEqual(await c.clientIn.read(4), POSITIVE);
  await c.events.count('message', 3);
  assert.deepEqual(c.events.log.map(({ event }) => event), ['connect', 'message', 'message', 'message']);
  assert.deepEqual(delivered(c), ['first', 'second', 'third']);
  assert.deepEqual(uncaught.stop(), []);
});

test('a request plus three messages in one write, accepted later: held until then, then all three after connect', async (t) => {
  let accept;
  const answered = new Promise((resolve) => {
    accept = resolve;
  });
  const c = await pipelinedTo(t, null, (request) => answered.then(() => request.accept()));
  await settle(10);
  assert.deepEqual(c.events.log, [], 'nothing before the answer');
  assert.equal(c.socket.isPaused(), true, 'the socket is not read while the request waits for its answer');
  accept();
  assert.deepEqual(await c.clientIn.read(4), POSITIVE);
  await c.events.count('message', 3);
  assert.deepEqual(c.events.log.map(({ event }) => event), ['connect', 'message', 'message', 'message']);
  assert.deepEqual(delivered(c), ['first', 'second', 'third']);
});

test('a request plus three messages in one write to a paused session: after connect, nothing until resume(), then all three', async (t) => {
  const c = await pipelinedTo(t, { paused: true }, (request) => request.accept());
  assert.deepEqual(await c.clientIn.read(4), POSITIVE);
  await c.events.count('connect', 1);
  await settle(10);
  assert.deepEqual(delivered(c), []);
  c.session.resume();
  await c.events.count('message', 3);
  assert.deepEqual(delivered(c), ['first', 'second', 'third']);
});

test('keep-alives pipelined behind the request are skipped', async (t) => {
  const c = await calledWithRawClient(t, { autoAccept: true }, (session, socket) => session.attach(socket));
  c.client.write(Buffer.concat([REQUEST, fromHex('85 00 00 00'), messageFrame(Buffer.from('after a keep-alive'))]));
  assert.deepEqual(await c.clientIn.read(4), POSITIVE);
  await c.events.count('message', 1);
  assert.deepEqual(delivered(c), ['after a keep-alive']);
});

for (const [how, answer, frame] of [
  ['rejected', (request) => request.reject('Called name not present'), fromHex('83 00 00 01 82')],
  ['retargeted', (request) => request.retarget('127.0.0.9', 445), fromHex('84 00 00 06 7f 00 00 09 01 bd')],
]) {
  test(`a request plus three messages in one write, ${how}: none is delivered, the connection closes`, async (t) => {
    const uncaught = watchUncaught(t);
    const c = await pipelinedTo(t, null, answer);
    assert.deepEqual(await c.clientIn.read(frame.length), frame);
    assert.deepEqual(await c.clientIn.rest(), Buffer.alloc(0), 'nothing after the answer');
    await nextEvent(c.session, 'close');
    assert.deepEqual(delivered(c), []);
    assert.equal(c.events.of('connect').length, 0);
    assert.equal(c.events.of('error').length, 0);
    assert.deepEqual(uncaught.stop(), []);
  });
}

test('without a callback: autoAccept delivers the pipelined messages, the default policy drops them', async (t) => {
  const accepted = await calledWithRawClient(t, { autoAccept: true }, (session, socket) => session.attach(socket));
  accepted.client.write(PIPELINED);
  await accepted.events.count('message', 3);
  assert.deepEqual(delivered(accepted), ['first', 'second', 'third']);

  const rejected = await calledWithRawClient(t, null, (session, socket) => session.attach(socket));
  rejected.client.write(PIPELINED);
  assert.deepEqual(await rejected.clientIn.read(5), fromHex('83 00 00 01 80'));
  await nextEvent(rejected.session, 'close');
  assert.deepEqual(delivered(rejected), []);
});

test('direct mode is unchanged: messages in the first write are messages', async (t) => {
  const c = await calledWithRawClient(t, { direct: true }, (session, socket) => session.attach(socket));
  c.client.write(Buffer.concat(MESSAGES.map(messageFrame)));
  await c.events.count('message', 3);
  assert.deepEqual(delivered(c), ['first', 'second', 'third']);
});

test('rejected later with 200 KB pipelined: the held data is dropped, the peer gets the answer, and the session closes', async (t) => {
  let reject;
  const answered = new Promise((resolve) => {
    reject = resolve;
  });
  const c = await calledWithRawClient(t, null, (session, socket) => {
    session.attach(socket, (error, request) => answered.then(() => request.reject('Not listening on called name')));
  });
  const big = Buffer.alloc(100000, 0x61);
  c.client.write(Buffer.concat([REQUEST, messageFrame(big), messageFrame(big)]));
  await settle(10);
  reject();
  assert.deepEqual(await c.clientIn.read(5), fromHex('83 00 00 01 80'));
  c.client.end();
  await nextEvent(c.session, 'close');
  assert.deepEqual(delivered(c), []);
  assert.equal(c.session.errored, null);
});

test('the peer ends its stream while its request awaits the answer: the session fails, and a late accept() sends nothing', async (t) => {
  let held = null;
  const c = await calledWithRawClient(t, null, (session, socket) => {
    session.on('error', () => {});
    session.attach(socket, (error, request) => {
      held = request;
    });
  });
  c.client.end(PIPELINED);
  await c.events.count('close', 1);
  assert.equal(c.session.errored.code, 'ERR_NETBIOS_PROTOCOL');
  assert.match(c.session.errored.message, /ended by the peer before the SESSION REQUEST was answered/);
  held.accept();
  assert.deepEqual(await c.clientIn.rest(), Buffer.alloc(0), 'no answer was sent');
  assert.deepEqual(delivered(c), []);
  assert.equal(c.events.of('connect').length, 0);
});
