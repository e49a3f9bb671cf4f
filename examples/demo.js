'use strict';
// `npm start`: a called node and a caller on loopback. The caller asks for a
// session, the called node accepts, they exchange messages (one of 100 KiB,
// past the 64 KiB mark where the length-extension bit matters) and end.

const net = require('net');
const NetbiosSession = require('..');

const log = (who, text) => console.log(`${who.padEnd(6)} ${text}`);

const server = net.createServer((socket) => {
  const session = new NetbiosSession();
  session.attach(socket, (error, request) => {
    if (error) return log('called', `attach failed: ${error.message}`);
    log('called', `SESSION REQUEST to ${request.callTo} (${request.callTo.usage}) from ${request.callFrom}`);
    if (request.callTo.name !== 'DEMO') {
      log('called', 'rejecting: not our name');
      request.reject('Not listening on called name');
      return;
    }
    log('called', 'accepting');
    request.accept();
  });
  session.on('message', (message) => {
    log('called', `message of ${message.length} bytes; echoing it`);
    session.write(message);
  });
  session.on('end', () => log('called', 'peer ended the session'));
  session.on('error', (error) => log('called', `error ${error.code}: ${error.message}`));
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  log('called', `listening on 127.0.0.1:${port}`);

  const caller = new NetbiosSession();
  const outgoing = [Buffer.from('hello, NetBIOS'), Buffer.alloc(100 * 1024, 0x42), Buffer.alloc(0)];
  let echoed = 0;

  caller.on('error', (error) => {
    log('caller', `error ${error.code}: ${error.message}`);
    process.exitCode = 1;
    server.close();
  });
  caller.on('message', (message) => {
    const expected = outgoing[echoed++];
    const intact = message.equals(expected);
    log('caller', `echo of ${message.length} bytes ${intact ? 'intact' : 'CORRUPTED'}`);
    if (!intact) process.exitCode = 1;
    if (echoed === outgoing.length) {
      log('caller', 'ending the session');
      caller.end();
    }
  });
  caller.on('close', () => {
    log('caller', process.exitCode ? 'session FAILED' : `session completed: ${echoed} messages echoed`);
    server.close();
  });

  log('caller', `connecting to 127.0.0.1:${port} as DEMO<20> from CLIENT<00>`);
  caller.connect(port, '127.0.0.1', 'DEMO', 'CLIENT', (error) => {
    if (error) return;
    log('caller', 'session established (POSITIVE SESSION RESPONSE)');
    for (const message of outgoing) caller.write(message);
  });
});
