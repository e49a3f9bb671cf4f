'use strict';
// COMPAT.md "Module shape": what require('netbios-session') gives 0.1.6 users.

const test = require('node:test');
const assert = require('node:assert/strict');
const { EventEmitter } = require('events');
const path = require('path');
const { spawnSync } = require('child_process');

const NetbiosSession = require('..');

test('COMPAT module: require() returns the constructor itself', () => {
  assert.equal(typeof NetbiosSession, 'function');
  assert.equal(NetbiosSession.NetbiosSession, NetbiosSession);
  assert.equal(typeof NetbiosSession.NetbiosName, 'function');
});

test('COMPAT module: static MAX_MESSAGE_LENGTH is 131071 and instances show it too', () => {
  assert.equal(NetbiosSession.MAX_MESSAGE_LENGTH, 131071);
  assert.equal(new NetbiosSession().MAX_MESSAGE_LENGTH, 131071);
});

test('COMPAT module: the constructor works with and without new; instances are EventEmitters', () => {
  const withNew = new NetbiosSession();
  const withoutNew = NetbiosSession();
  for (const session of [withNew, withoutNew]) {
    assert.ok(session instanceof NetbiosSession);
    assert.ok(session instanceof EventEmitter);
    assert.equal(typeof session.attach, 'function');
    assert.equal(typeof session.connect, 'function');
  }
  const withOptions = NetbiosSession({ direct: true });
  assert.equal(withOptions.MAX_MESSAGE_LENGTH, 16777215);
});

test('EventEmitter behaves as for any emitter: names, counts, removal, inherited-looking event names', () => {
  // A session keeps its listeners in its own compact table (lib/session.js Listeners).
  const session = new NetbiosSession();
  const plain = new EventEmitter();
  for (const emitter of [session, plain]) {
    const seen = [];
    const one = () => seen.push('one');
    emitter.on('message', one);
    emitter.once('connect', () => seen.push('connect'));
    emitter.on('toString', () => seen.push('toString'));
    emitter.on('__proto__', () => seen.push('__proto__'));
    assert.deepEqual(emitter.eventNames(), ['message', 'connect', 'toString', '__proto__']);
    assert.equal(emitter.listenerCount('constructor'), 0, 'nothing inherited counts as a listener');
    assert.equal(emitter.emit('hasOwnProperty'), false);
    emitter.emit('connect');
    emitter.emit('connect');
    emitter.emit('toString');
    emitter.emit('__proto__');
    emitter.emit('message');
    assert.deepEqual(seen, ['connect', 'toString', '__proto__', 'one']);
    assert.deepEqual(emitter.eventNames(), ['message', 'toString', '__proto__']);
    emitter.removeListener('message', one);
    assert.equal(emitter.listenerCount('message'), 0);
    emitter.removeAllListeners();
    assert.deepEqual(emitter.eventNames(), []);
  }
});

test('COMPAT module: options {autoAccept, direct, paused} default false; null and missing are fine', () => {
  for (const options of [undefined, null, {}]) {
    const session = new NetbiosSession(options);
    assert.equal(session.MAX_MESSAGE_LENGTH, 131071);
  }
});

test('subclasses keep working (class X extends NetbiosSession)', () => {
  class Traced extends NetbiosSession {
    trace() {
      return 'traced';
    }
  }
  const session = new Traced({ paused: true });
  assert.ok(session instanceof Traced);
  assert.ok(session instanceof NetbiosSession);
  assert.equal(session.trace(), 'traced');
});

test('bad options throw at construction with a code and a clear message', () => {
  assert.throws(() => new NetbiosSession(42), { code: 'ERR_INVALID_ARG_TYPE', name: 'TypeError' });
  assert.throws(() => new NetbiosSession({ maxMessageLength: -1 }), {
    code: 'ERR_OUT_OF_RANGE',
    message: /maxMessageLength must be an integer from 0 to 16777215/,
  });
  assert.throws(() => new NetbiosSession({ maxMessageLength: 1 << 24 }), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => new NetbiosSession({ maxMessageLength: 1.5 }), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => new NetbiosSession({ legacyLengthBit: true, maxMessageLength: 200000 }), {
    code: 'ERR_INVALID_ARG_VALUE',
    message: /legacyLengthBit/,
  });
  assert.throws(() => new NetbiosSession({ legacyLengthBit: true, direct: true }), {
    code: 'ERR_INVALID_ARG_VALUE',
    message: /direct/,
  });
});

test('ESM: import NetbiosSession, { NetbiosName } from "netbios-session"', () => {
  const root = path.join(__dirname, '..');
  const script = `
    import NetbiosSession, { NetbiosName, MAX_MESSAGE_LENGTH, NetbiosSession as Named } from 'netbios-session';
    import cjs from 'netbios-session';
    const ok = NetbiosSession === cjs && Named === cjs && NetbiosName === cjs.NetbiosName
      && MAX_MESSAGE_LENGTH === 131071 && String(new NetbiosName({ name: 'DST', suffix: 0x20 })) === 'DST<20>';
    console.log(ok ? 'esm-ok' : 'esm-mismatch');
  `;
  // Resolve the package by its own name, as a user would (package.json "exports").
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, NODE_PATH: '' },
  });
  assert.equal(result.stderr, '');
  assert.equal(result.stdout.trim(), 'esm-ok');
});

test("0.1.6's require('netbios-session/session') gives the same constructor", async () => {
  assert.equal(require('netbios-session/session'), NetbiosSession);
  const imported = await import('netbios-session/session');
  assert.equal(imported.default, NetbiosSession);
});
