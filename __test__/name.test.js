'use strict';
// COMPAT.md: name objects shaped like netbios-name 0.2.0's, both ways.

const test = require('node:test');
const assert = require('node:assert/strict');
const NBName = require('netbios-name');

const NetbiosSession = require('..');
const { NetbiosName } = NetbiosSession;
const { duplexPair, encodeName, requestFrame, nextEvent } = require('./helpers');

test('COMPAT names: .name, .suffix, .scopeId, .fqdn, .usage and toString()', () => {
  const plain = new NetbiosName({ name: 'Dst', suffix: 0x20 });
  assert.deepEqual(
    { name: plain.name, suffix: plain.suffix, scopeId: plain.scopeId, fqdn: plain.fqdn, usage: plain.usage },
    { name: 'Dst', suffix: 0x20, scopeId: '', fqdn: 'Dst', usage: 'File Server Service' }
  );
  assert.equal(plain.toString(), 'Dst<20>');
  const scoped = new NetbiosName({ fqdn: 'HOST.corp.example', suffix: 0x1b });
  assert.equal(scoped.name, 'HOST');
  assert.equal(scoped.scopeId, 'corp.example');
  assert.equal(scoped.fqdn, 'HOST.corp.example');
  assert.equal(String(scoped), 'HOST<1b>.corp.example');
  assert.equal(new NetbiosName({ name: 'X', suffix: 0x99 }).usage, 'Unknown');
  assert.equal(new NetbiosName({ name: 'W' }).suffix, 0x00);
});

test('toString() format matches netbios-name 0.2.0 for the same names', () => {
  const cases = [
    { name: 'DST', suffix: 0x20 },
    { name: 'WORKGROUP', suffix: 0x1b },
    { name: 'ws', suffix: 0x00 },
    { fqdn: 'HOST.scope.test', suffix: 0x03 },
  ];
  for (const options of cases) {
    assert.equal(String(new NetbiosName(options)), String(new NBName(options)));
    assert.equal(new NetbiosName(options).fqdn, new NBName(options).fqdn);
    assert.equal(new NetbiosName(options).suffix, new NBName(options).suffix);
  }
});

test('string notation: NAME, NAME.scope, NAME<xx>, NAME<xx>.scope', () => {
  assert.equal(String(new NetbiosName('DST')), 'DST<00>');
  assert.equal(String(new NetbiosName('DST<20>')), 'DST<20>');
  assert.equal(String(new NetbiosName('HOST<1b>.a.b')), 'HOST<1b>.a.b');
  const parsed = new NetbiosName('MY.scope');
  assert.equal(parsed.name, 'MY');
  assert.equal(parsed.scopeId, 'scope');
  // A dot inside a name is kept when the name is given on its own.
  assert.equal(new NetbiosName({ name: 'MY.PC', suffix: 0 }).name, 'MY.PC');
});

test('invalid names throw TypeError/RangeError saying what is wrong', () => {
  assert.throws(() => new NetbiosName({ name: 'SIXTEEN-CHARS-XX' }), {
    name: 'TypeError',
    code: 'ERR_INVALID_ARG_VALUE',
    message: /16 bytes long; expected at most 15/,
  });
  assert.throws(() => new NetbiosName({ name: '' }), { code: 'ERR_INVALID_ARG_VALUE', message: /empty/ });
  assert.throws(() => new NetbiosName({ name: 'A', suffix: 256 }), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => new NetbiosName({ name: 'A', scopeId: 'a..b' }), { message: /empty label/ });
  assert.throws(() => new NetbiosName({ name: 'A', scopeId: 'x'.repeat(64) }), { message: /at most 63/ });
  assert.throws(() => new NetbiosName({ name: '名前' }), { message: /outside Latin-1/ });
  assert.throws(() => new NetbiosName(null), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => new NetbiosName({ suffix: 1 }), { code: 'ERR_INVALID_ARG_TYPE' });
});

test('a string name whose <xx> suffix is not two hex digits throws instead of becoming part of the name', async () => {
  for (const text of ['NAME<zz>', 'NAME<2>', 'NAME<200>', 'NAME<20', 'NAME<20>x', 'NA<20>ME']) {
    assert.throws(() => new NetbiosName(text), {
      name: 'TypeError',
      code: 'ERR_INVALID_ARG_VALUE',
      message: /a suffix is written <xx>, two hex digits/,
    }, text);
  }
  assert.equal(String(new NetbiosName('NAME<1b>.corp')), 'NAME<1b>.corp');
  // connect() reports it through its callback, naming the argument.
  const session = new NetbiosSession();
  const error = await new Promise((resolve) => session.connect(139, '127.0.0.1', 'NAME<zz>', 'ME', resolve));
  assert.equal(error.code, 'ERR_INVALID_ARG_VALUE');
  assert.match(error.message, /^callTo: Invalid NetBIOS name "NAME<zz>"/);
});

test('request names decode to NetbiosName objects whose String() matches netbios-name', async () => {
  const [serverSide, clientSide] = duplexPair();
  const session = new NetbiosSession();
  const requested = new Promise((resolve, reject) =>
    session.attach(serverSide, (error, request) => (error ? reject(error) : resolve(request)))
  );
  clientSide.write(requestFrame(encodeName('FileSrv', 0x20, 'corp.test'), encodeName('CLIENT', 0x00)));
  const request = await requested;
  assert.ok(request.callTo instanceof NetbiosName);
  assert.equal(request.callTo.name, 'FileSrv');
  assert.equal(request.callTo.scopeId, 'corp.test');
  assert.equal(String(request.callTo), String(new NBName({ fqdn: 'FileSrv.corp.test', suffix: 0x20 })));
  assert.equal(String(request.callFrom), String(new NBName({ name: 'CLIENT', suffix: 0x00 })));
  assert.equal(request.callFrom.scopeId, '');
  assert.equal(request.callFrom.usage, 'Workstation Service');
  clientSide.resume();
  request.reject();
  await nextEvent(clientSide, 'end');
});

test('names keep bytes outside ASCII (Latin-1) both ways', async () => {
  const [serverSide, clientSide] = duplexPair();
  const session = new NetbiosSession();
  const requested = new Promise((resolve) => session.attach(serverSide, (error, request) => resolve(request)));
  clientSide.write(requestFrame(encodeName('CAFÉ', 0x20), encodeName('ÜSER', 0x00)));
  const request = await requested;
  assert.equal(request.callTo.name, 'CAFÉ');
  assert.equal(request.callFrom.name, 'ÜSER');
  request.reject('Called name not present');
});
