'use strict';
// A forwarder, like 0.1.6's netbios-fwd: NetBIOS sessions in on one side,
// SMB direct TCP out on the other, message by message with backpressure.
//
//   node examples/netbios-fwd.js [--listen PORT] [--to HOST:PORT] [--direct-in]
//
// --listen     port to accept on (default 139)
// --to         where to forward (default 127.0.0.1:445), always direct TCP
// --direct-in  accept direct TCP instead of NetBIOS on the listening port
//
// An SMB server reached on its direct port grants large reads and writes
// (SMB2 multi-credit), so replies can be frames of several MiB. The NetBIOS
// side therefore accepts and sends 24-bit lengths too (maxMessageLength
// 16777215), as Samba's own server and client do on port 139.

const net = require('net');
const NetbiosSession = require('..');

function option(name, fallback) {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : fallback;
}

const listenPort = Number(option('--listen', 139));
const [targetHost, targetPort] = option('--to', '127.0.0.1:445').split(/:(?=\d+$)/);
const directIn = process.argv.includes('--direct-in');

/** Sends each message of `from` to `to`; pauses `from` while `to` is backed up. */
function forward(from, to) {
  from.on('message', (message) => {
    if (!to.write(message)) {
      from.pause();
      to.once('drain', () => from.resume());
    }
  });
}

const server = net.createServer((socket) => {
  // Paused until the outgoing side is up, so no message is dropped.
  const inbound = new NetbiosSession({ paused: true, autoAccept: true, direct: directIn, maxMessageLength: 16777215 });
  const outbound = new NetbiosSession({ direct: true });
  const stop = (error) => {
    if (error) console.log(`forwarding stopped: ${error.code || ''} ${error.message}`);
    inbound.end();
    outbound.end();
  };
  inbound.on('error', stop);
  outbound.on('error', stop);
  inbound.on('end', () => stop());
  outbound.on('end', () => stop());
  inbound.on('close', () => outbound.end());
  outbound.on('close', () => inbound.end());

  inbound.on('connect', () => {
    forward(inbound, outbound);
    forward(outbound, inbound);
    outbound.connect(Number(targetPort), targetHost, (error) => {
      if (error) stop(error);
      else inbound.resume();
    });
  });
  inbound.attach(socket);
});

server.listen(listenPort, () => {
  const mode = directIn ? 'direct TCP' : 'NetBIOS';
  console.log(`netbios-fwd: ${mode} on port ${listenPort} -> direct TCP ${targetHost}:${targetPort}`);
});
