'use strict';
// A NetBIOS echo server: accepts sessions to one name (or any, if NAME is
// unset) and sends every message back.
//
//   node examples/server.js [port] [name]     default port 139, any name

const net = require('net');
const NetbiosSession = require('..');

const port = Number(process.argv[2] || 139);
const name = process.argv[3] || null;

const server = net.createServer((socket) => {
  const peer = `${socket.remoteAddress}:${socket.remotePort}`;
  const session = new NetbiosSession();
  session.attach(socket, (error, request) => {
    if (error) return console.log(`${peer}: ${error.message}`);
    console.log(`${peer}: call to ${request.callTo} from ${request.callFrom}`);
    if (name && request.callTo.name.toUpperCase() !== name.toUpperCase()) {
      request.reject('Not listening on called name');
      return;
    }
    request.accept();
  });
  session.on('message', (message) => {
    // Backpressure: stop reading while the peer is not reading our echoes.
    if (!session.write(message)) {
      session.pause();
      session.once('drain', () => session.resume());
    }
  });
  session.on('error', (error) => console.log(`${peer}: ${error.code}: ${error.message}`));
  session.on('close', () => console.log(`${peer}: closed`));
});

server.listen(port, () => console.log(`NetBIOS echo server on port ${port}${name ? ` for ${name}` : ''}`));
