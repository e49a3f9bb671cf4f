// Compiled by `tsc --noEmit -p __test__/types` (see types.test.js): a typed
// user of every public option, method and event. It is type-checked, not run.
import NetbiosSession, { NetbiosName } from '../..';
import * as net from 'net';

const server = net.createServer((socket) => {
  const session = new NetbiosSession({ autoAccept: false, paused: true, maxMessageLength: 65536 });
  session.attach(socket, (error, request) => {
    if (error || !request) return;
    const called: NetbiosName = request.callTo;
    const text: string = `${called.name} ${called.suffix} ${called.scopeId} ${called.fqdn} ${called.usage} ${called}`;
    void text;
    if (request.callFrom.suffix === 0x00 && request.accept) request.accept();
    else if (request.reject) request.reject('Called name not present');
  });
  session.on('message', (message: Buffer) => {
    const flushed: boolean = session.write(message, (err) => {
      if (err) console.error(err.message);
    });
    if (!flushed) session.pause().once('drain', () => session.resume());
  });
  session.on('error', (error) => {
    const code: string = error.code;
    const rejectedWith: number | undefined = error.errorCode;
    void code;
    void rejectedWith;
  });
  session.on('end', () => session.end());
  session.on('close', () => {
    const cause: NetbiosSession.NetbiosError | null = session.errored;
    if (cause) console.error(cause.code);
  });
});

const limit: 131071 = NetbiosSession.MAX_MESSAGE_LENGTH;
const direct = new NetbiosSession({ direct: true, noDelay: false });
const instanceLimit: number = direct.MAX_MESSAGE_LENGTH;
direct.connect(445, '127.0.0.1', (error) => {
  if (!error) direct.write(Buffer.alloc(1 << 20));
});

const caller = new NetbiosSession({
  legacyLengthBit: true,
  timeout: 5000,
  maxRetargets: 2,
  calledNameFallback: ['*SMBSERVER', new NetbiosName('ALIAS<20>')],
  keepAlive: 60000,
  idleTimeout: 120000,
});
caller.on('retarget', ({ host, port }) => console.log(`retargeted to ${host}:${port}`));
caller.on('fallback', (name) => console.log(`trying ${name.name}`));
new NetbiosSession({ requestTimeout: 10000 }).attach(new net.Socket(), (error, request) => {
  if (request && request.retarget) request.retarget('127.0.0.1', 1139);
});
caller.destroy(new Error('shutting down'));
caller.connect(null, 'fileserver', new NetbiosName({ name: 'DST', suffix: 0x20 }), 'CLIENT', (error) => {
  if (error && error.code === 'ERR_NETBIOS_REJECTED') console.log(error.reason);
});
caller.connect(139, '::1', { fqdn: 'HOST.scope' }, new NetbiosSession.NetbiosName('ME<00>'));
caller.on('connect', () => caller.write('hello'));

class Logged extends NetbiosSession {
  log(): void {
    this.on('message', (m) => console.log(m.length));
  }
}
new Logged().log();
void server;
void limit;
void instanceLimit;

// Misuse must not type-check: each line below is an error tsc has to find.
// @ts-expect-error autoAccept is a boolean
new NetbiosSession({ autoAccept: 'yes' });
// @ts-expect-error messages are bytes or strings
caller.write(42);
// @ts-expect-error reject takes one of RFC 1002's reasons
const answer = (r: NetbiosSession.SessionRequest) => r.reject && r.reject('go away');
void answer;
