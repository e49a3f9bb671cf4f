'use strict';
// One side of one benchmark, run in its own process by benchmark/run.js:
//   node benchmark/peers.js ROLE JSON-OPTIONS
// Servers report {port} to the parent over IPC; the measuring side reports
// when its window starts ({window: 'start'}) and then its figure ({value}),
// and the parent stops both processes. The parent reads what CPU time each
// process used in between.
//
// "ours" roles use NetbiosSession; "raw" roles are the baseline: plain net
// sockets moving the same frame bytes (the limit of what Node can do).

const net = require('net');
const NetbiosSession = require('..');

const [role, json] = process.argv.slice(2);
const options = JSON.parse(json || '{}');
// V8 compiles hot code in tiers over the first few hundred milliseconds;
// counting from the start measured that, not the steady state a server runs
// in (session setups: 0.69 of the baseline after 300 ms, 0.82 after 1500 ms).
const WARMUP_MS = options.warmup ?? 1000;
const WINDOW_MS = options.window ?? 1000;
// Each figure gets its own loopback address, so the TIME_WAIT sockets one
// figure leaves (session setups open tens of thousands) cannot starve the next.
const HOST = options.host || '127.0.0.1';
const MiB = 1024 * 1024;

const report = (message) => process.send(message);

/** Counts `count()` over a window after a warmup, once `start()` is first called. */
function windowMeter(count) {
  let started = false;
  return function start() {
    if (started) return;
    started = true;
    setTimeout(() => {
      const begin = count();
      const t0 = process.hrtime.bigint();
      report({ window: 'start' });
      setTimeout(() => {
        const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
        report({ value: (count() - begin) / seconds });
      }, WINDOW_MS);
    }, WARMUP_MS);
  };
}

function frame(size, direct) {
  const payload = Buffer.alloc(size, 0x61);
  const header = Buffer.from([0, direct ? size >>> 16 : (size >>> 16) & 1, (size >>> 8) & 0xff, size & 0xff]);
  return Buffer.concat([header, payload]);
}

/** Writes `next()` forever with backpressure. */
function flood(socket, next) {
  const pump = () => {
    while (socket.write(next()));
    socket.once('drain', pump);
  };
  pump();
}

function serve(onConnection) {
  const server = net.createServer({ noDelay: true }, onConnection);
  // A deep backlog: the memory figure opens 2000 connections at once.
  server.listen({ port: 0, host: HOST, backlog: 4096 }, () => report({ port: server.address().port }));
  return server;
}

function connectOurs(port, direct, callback) {
  const session = new NetbiosSession({ direct });
  session.on('error', (error) => {
    console.error(error);
    process.exit(1);
  });
  if (direct) session.connect(port, HOST, () => callback(session));
  else session.connect(port, HOST, 'BENCH', 'CLIENT', () => callback(session));
  return session;
}

const roles = {
  // ---- one-way throughput (and aggregate, with options.sessions) ----
  'recv-ours'() {
    let messages = 0;
    const start = windowMeter(() => messages);
    serve((socket) => {
      const session = new NetbiosSession({ direct: options.direct, autoAccept: true });
      session.on('message', () => {
        messages++;
        start();
      });
      session.on('error', () => {});
      session.attach(socket);
    });
  },
  'recv-raw'() {
    let bytes = 0;
    const frameSize = options.size + 4;
    const start = windowMeter(() => bytes / frameSize);
    serve((socket) => {
      socket.on('data', (chunk) => {
        bytes += chunk.length;
        start();
      });
      socket.on('error', () => {});
    });
  },
  'send-ours'() {
    const payload = Buffer.alloc(options.size, 0x61);
    for (let i = 0; i < (options.sessions || 1); i++) {
      connectOurs(options.port, options.direct, (session) => {
        const pump = () => {
          while (session.write(payload));
          session.once('drain', pump);
        };
        pump();
      });
    }
  },
  'send-raw'() {
    // The same frame bytes as a continuous stream, in 64 KiB writes: many
    // frames per write for small messages, one frame over several writes
    // for large ones. Writes end on a frame boundary every few MiB.
    const one = frame(options.size, options.direct);
    const frames = Math.max(1, Math.ceil((4 * MiB) / one.length));
    const stream = Buffer.concat(Array(frames).fill(one));
    for (let i = 0; i < (options.sessions || 1); i++) {
      const socket = net.connect({ port: options.port, host: HOST, noDelay: true }, () => {
        let offset = 0;
        flood(socket, () => {
          const slice = stream.subarray(offset, offset + 65536);
          offset = offset + 65536 >= stream.length ? 0 : offset + 65536;
          return slice;
        });
      });
      socket.on('error', () => {});
    }
  },

  // ---- 64-byte ping-pong ----
  'pong-ours'() {
    serve((socket) => {
      const session = new NetbiosSession({ autoAccept: true });
      session.on('message', (message) => session.write(message));
      session.on('error', () => {});
      session.attach(socket);
    });
  },
  'ping-ours'() {
    const payload = Buffer.alloc(64, 0x61);
    let trips = 0;
    const start = windowMeter(() => trips);
    connectOurs(options.port, false, (session) => {
      session.on('message', () => {
        trips++;
        session.write(payload);
      });
      session.write(payload);
      start();
    });
  },
  'pong-raw'() {
    serve((socket) => {
      socket.setNoDelay(true);
      socket.on('data', (chunk) => socket.write(chunk));
      socket.on('error', () => {});
    });
  },
  'ping-raw'() {
    const message = frame(64, false);
    let trips = 0;
    let received = 0;
    const start = windowMeter(() => trips);
    const socket = net.connect({ port: options.port, host: HOST, noDelay: true }, () => {
      socket.write(message);
      start();
    });
    socket.on('data', (chunk) => {
      received += chunk.length;
      while (received >= message.length) {
        received -= message.length;
        trips++;
        socket.write(message);
      }
    });
  },

  // ---- session setups: connect, request, positive response, end ----
  'accept-ours'() {
    serve((socket) => {
      const session = new NetbiosSession({ autoAccept: true });
      session.on('error', () => {});
      session.attach(socket);
    });
  },
  'setup-ours'() {
    let setups = 0;
    const start = windowMeter(() => setups);
    const next = () => {
      const session = new NetbiosSession();
      session.on('error', () => {});
      session.connect(options.port, HOST, 'BENCH', 'CLIENT', (error) => {
        if (error) throw error;
        setups++;
        session.end();
        next();
      });
    };
    next();
    start();
  },
  'accept-raw'() {
    serve((socket) => {
      let received = 0;
      socket.on('data', (chunk) => {
        received += chunk.length;
        if (received === 72) socket.write(Buffer.from([0x82, 0, 0, 0]));
      });
      socket.on('error', () => {});
    });
  },
  'setup-raw'() {
    const request = Buffer.alloc(72, 0x41);
    let setups = 0;
    const start = windowMeter(() => setups);
    const next = () => {
      const socket = net.connect({ port: options.port, host: HOST, noDelay: true }, () => socket.write(request));
      socket.on('data', () => {
        setups++;
        socket.end();
        next();
      });
      socket.on('error', () => {});
    };
    next();
    start();
  },

  // ---- memory per idle established session (server side) ----
  'hold-ours'() {
    const sessions = [];
    holdServer((socket, established) => {
      const session = new NetbiosSession({ autoAccept: true });
      session.on('error', () => {});
      session.once('connect', established);
      session.attach(socket);
      sessions.push(session);
    });
  },
  'hold-raw'() {
    // Plain sockets that moved the handshake's bytes: 72 in, 4 out.
    const sockets = [];
    holdServer((socket, established) => {
      let received = 0;
      socket.on('data', (chunk) => {
        received += chunk.length;
        if (received === 72) {
          socket.write(Buffer.from([0x82, 0, 0, 0]));
          established();
        }
      });
      socket.on('error', () => {});
      sockets.push(socket);
    });
  },
  'open-ours'() {
    openInRounds(
      (ready) => connectOurs(options.port, false, ready),
      (session) => session.destroy()
    );
  },
  'open-raw'() {
    const request = Buffer.alloc(72, 0x41);
    openInRounds(
      (ready) => {
        const socket = net.connect({ port: options.port, host: HOST }, () => socket.write(request));
        socket.once('data', ready);
        return socket.on('error', () => {});
      },
      (socket) => socket.destroy()
    );
  },
};

/**
 * The client side of the memory figure: a warm-up round of as many
 * connections as are measured, established and closed again (so the allocator
 * and heap growth a server of that size pays once is not counted per
 * session), then `options.count` connections held open.
 */
function openInRounds(open, close) {
  let pending = options.count;
  const warm = [];
  const ready = () => {
    if (--pending > 0) return;
    warm.forEach(close);
    setTimeout(() => {
      const held = Array.from({ length: options.count }, () => open(() => {}));
      process.on('exit', () => held.length);
    }, 1000);
  };
  for (let i = 0; i < options.count; i++) warm.push(open(ready));
}

/** A server that reports its RSS growth per connection once `options.count` connections after the warm-up are established and idle. */
function holdServer(onConnection) {
  const settle = () => {
    for (let i = 0; i < 4; i++) global.gc();
    return process.memoryUsage().rss;
  };
  let before = 0;
  let established = 0;
  let closed = 0;
  serve((socket) => {
    socket.once('close', () => {
      if (++closed === options.count) before = settle();
    });
    onConnection(socket, () => {
      if (++established === 2 * options.count) {
        setTimeout(() => report({ value: (settle() - before) / options.count }), 500);
      }
    });
  });
}

roles[role]();
