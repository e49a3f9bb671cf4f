'use strict';
// The interop suite's peers: Samba's smbd (started from an smb.conf written
// into a temporary directory), smbclient, impacket (a Python child) and
// tshark, plus the forwarder example. Every peer runs on its own loopback
// address (127.0.0.0/8 only), every process started here is stopped by its
// id (smbd, tshark and the Python server by process group, because they
// fork helpers), and every wait is bounded.

const assert = require('node:assert/strict');
const crypto = require('crypto');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const { spawn, spawnSync } = require('child_process');

const { closedPortOn, processExit, runProcess, delay } = require('../helpers');

const ROOT = path.join(__dirname, '..', '..');
const FIXTURES = path.join(__dirname, 'fixtures');

/** Who listens where. smbd and our called node cannot both own 127.0.0.1:139, so each has an address of its own. */
const ADDR = {
  smbd: '127.0.0.2', // smbd: NetBIOS on 139, direct TCP on 445
  node: '127.0.0.3', // our called node (smbclient's and impacket's peer) on 139
  fwd: '127.0.0.4', // the forwarder example: NetBIOS on 139, direct TCP (--direct-in) on 445
  impacket: '127.0.0.5', // impacket's SimpleSMBServer on a spare port
};
const NETBIOS_PORT = 139;
// Direct TCP listens on 445: Wireshark 4.0 applies 24-bit lengths to
// reassembled frames only on port 445 (`-d tcp.port==N,nbss` decodes them
// with 17 bits), so direct TCP on any other port cannot be dissected.
const DIRECT_PORT = 445;

const NAMES = {
  smbd: 'INTEROPSMBD', // smbd's netbios name
  retarget: 'RETARGETME', // smbd retargets calls to this name to its direct port
  client: 'INTEROPCLI', // smbclient's calling name (netbios name in its smb.conf)
  node: 'INTEROPNODE', // the name smbclient and impacket call on our node
};

const SEARCH_PATH = [...(process.env.PATH || '').split(path.delimiter), '/usr/sbin', '/sbin', '/usr/local/sbin'];

/** The absolute path of an executable on PATH (or in an sbin directory), or null. */
function which(name) {
  for (const dir of SEARCH_PATH) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

const BIN = {
  smbd: which('smbd'),
  smbclient: which('smbclient'),
  tshark: which('tshark'),
  python3: which('python3'),
};

/** What the suite needs and this machine lacks, as short names for the skip line. */
function missingPeers() {
  const missing = [];
  for (const name of ['smbd', 'smbclient', 'tshark']) if (!BIN[name]) missing.push(name);
  if (!BIN.python3) missing.push('python3');
  else if (spawnSync(BIN.python3, ['-c', 'import impacket.nmb, impacket.smbserver'], { timeout: 30000 }).status !== 0) {
    missing.push('impacket');
  }
  // Ports 139 and 445 and capturing on lo need root.
  if (typeof process.getuid === 'function' && process.getuid() !== 0) missing.push('root (ports 139/445, capture on lo)');
  return missing;
}

/** The peers' versions, for the run log. */
function peerVersions() {
  const first = (result) => `${result.stdout || ''}${result.stderr || ''}`.split('\n').find((line) => line.trim()) || '?';
  const run = (bin, args) => spawnSync(bin, args, { encoding: 'utf8', timeout: 30000 });
  return {
    smbd: first(run(BIN.smbd, ['-V'])).trim(),
    smbclient: first(run(BIN.smbclient, ['-V'])).trim(),
    tshark: first(run(BIN.tshark, ['-v'])).trim(),
    impacket: first(run(BIN.python3, ['-c', 'from impacket import version; print(version.version)'])).trim(),
  };
}

// ---------------------------------------------------------------------------
// Processes

/** Every child started here, so a crash of the test process still stops them. */
const live = new Set();
process.on('exit', () => {
  for (const entry of live) killEntry(entry, 'SIGKILL');
});

function killEntry(entry, signal) {
  try {
    if (entry.group) process.kill(-entry.child.pid, signal);
    else entry.child.kill(signal);
  } catch {
    // already gone
  }
}

/** Is any process of the group led by `pid` still there? */
function groupAlive(pid) {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Spawns a child. `group`: in a process group of its own (led by the
 * child), so stop() also reaches the helpers it forks. Output goes to `log`
 * (a file) or is kept in memory (`output()`).
 */
function startChild(name, command, args, { group = false, log = null, env, stdio } = {}) {
  const logFd = log ? fs.openSync(log, 'a') : null;
  const child = spawn(command, args, {
    detached: group,
    env: env || process.env,
    stdio: stdio || ['ignore', logFd === null ? 'pipe' : logFd, logFd === null ? 'pipe' : logFd],
  });
  if (logFd !== null) fs.closeSync(logFd);
  let output = '';
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) stream.on('data', (chunk) => (output += chunk));
  }
  const exited = processExit(child, 0);
  const entry = { name, child, group };
  live.add(entry);
  exited.then(() => {
    if (!group || !groupAlive(child.pid)) live.delete(entry);
  });
  return {
    name,
    child,
    pid: child.pid,
    exited,
    output: () => output,
    /** Waits (bounded) until the output matches `pattern`; fails early if the child exits. */
    async waitFor(pattern, ms = 15000, what = `${name} to be ready`) {
      const deadline = Date.now() + ms;
      let exit = null;
      exited.then((result) => (exit = result));
      while (!pattern.test(readOutput())) {
        if (exit) throw new Error(`${name} exited (${JSON.stringify(exit)}) before ${what}:\n${readOutput().slice(-4000)}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${readOutput().slice(-4000)}`);
        await delay(50);
      }
    },
    /** Stops the child (and its process group): `signal`, then SIGKILL after `ms`. Resolves with how it exited. */
    async stop(signal = 'SIGTERM', ms = 10000) {
      if (child.exitCode === null && child.signalCode === null) killEntry(entry, signal);
      // (processExit's timer is cleared once the child exits: no timer outlives the suite.)
      let result = await processExit(child, ms);
      if (result.timedOut) {
        killEntry(entry, 'SIGKILL');
        result = await processExit(child, 5000);
      }
      if (group) {
        // The leader is gone; its helpers (smbd's per-connection children) must go too.
        for (let i = 0; i < 50 && groupAlive(child.pid); i++) {
          killEntry(entry, i < 20 ? 'SIGTERM' : 'SIGKILL');
          await delay(100);
        }
        assert.equal(groupAlive(child.pid), false, `${name}'s process group ${child.pid} is gone`);
      }
      live.delete(entry);
      return result;
    },
  };
  function readOutput() {
    return log ? safeRead(log) : output;
  }
}

function safeRead(file) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** Resolves once host:port accepts a TCP connection (bounded). */
async function waitForListening(host, port, ms = 15000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const socket = net.connect({ host, port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port}`);
    await delay(100);
  }
}

// ---------------------------------------------------------------------------
// The workspace: smb.conf files, the share and its test file

/**
 * A temporary directory with smbd's and smbclient's smb.conf, the shares and
 * a test file. `smbdAddr`: where smbd listens (each suite has its own, so
 * suites may run at once).
 */
function makeWorkspace({ smbdAddr = ADDR.smbd } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netbios-interop-'));
  // smbd serves the shares as the guest account (nobody): it must reach them.
  fs.chmodSync(dir, 0o755);
  const sub = (...parts) => {
    const p = path.join(dir, ...parts);
    fs.mkdirSync(p, { recursive: true });
    return p;
  };
  const share = sub('share');
  const drop = sub('drop');
  fs.chmodSync(drop, 0o777);
  const downloads = sub('downloads');
  // A few MiB of random bytes, not a multiple of any read size.
  const file = crypto.randomBytes(4 * 1024 * 1024 + 12345);
  fs.writeFileSync(path.join(share, 'big.bin'), file, { mode: 0o644 });
  fs.chmodSync(path.join(share, 'big.bin'), 0o644);

  const dirs = (name) => {
    const base = sub(name);
    const lines = ['pid directory', 'lock directory', 'state directory', 'cache directory', 'private dir', 'ncalrpc dir'].map(
      (option) => `  ${option} = ${sub(name, option.split(' ')[0])}`
    );
    return { base, lines };
  };
  const server = dirs('smbd');
  const client = dirs('smbclient');

  const smbConf = path.join(dir, 'smb.conf');
  fs.writeFileSync(
    smbConf,
    [
      '[global]',
      `  netbios name = ${NAMES.smbd}`,
      '  workgroup = INTEROP',
      '  server role = standalone server',
      // Loopback only: smbd binds exactly 127.0.0.2 (its own address).
      `  interfaces = ${smbdAddr}/8`,
      '  bind interfaces only = yes',
      // NetBIOS on 139, SMB direct TCP on the second port.
      `  smb ports = ${NETBIOS_PORT} ${DIRECT_PORT}`,
      ...server.lines,
      `  log file = ${path.join(server.base, 'log.%m')}`,
      '  max log size = 0',
      '  log level = 1',
      '  map to guest = Bad User',
      '  guest account = nobody',
      '  load printers = no',
      '  printing = bsd',
      '  printcap name = /dev/null',
      '  disable spoolss = yes',
      '  rpc start on demand helpers = no',
      // smbd answers a SESSION REQUEST for this name on port 139 with a
      // RETARGET to its direct port (source3/smbd: netbios_session_retarget()).
      `  netbios retarget:${NAMES.retarget} = ${smbdAddr}:${DIRECT_PORT}`,
      '',
      '[pub]',
      `  path = ${share}`,
      '  guest ok = yes',
      '  read only = yes',
      '',
      '[drop]',
      `  path = ${drop}`,
      '  guest ok = yes',
      '  read only = no',
      '',
    ].join('\n')
  );

  const clientConf = path.join(dir, 'smbclient.conf');
  fs.writeFileSync(
    clientConf,
    ['[global]', `  netbios name = ${NAMES.client}`, '  workgroup = INTEROP', ...client.lines, ''].join('\n')
  );

  return {
    dir,
    smbdAddr,
    smbConf,
    clientConf,
    share,
    drop,
    downloads,
    file,
    fileName: 'big.bin',
    remove() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------
// Peers

/** smbd in the foreground, in a process group of its own; ready once both its ports accept. */
async function startSmbd(workspace) {
  const smbd = startChild(
    'smbd',
    BIN.smbd,
    ['--foreground', '--no-process-group', '--debug-stdout', `--configfile=${workspace.smbConf}`],
    { group: true, log: path.join(workspace.dir, 'smbd.out') }
  );
  try {
    await Promise.race([
      Promise.all([waitForListening(workspace.smbdAddr, NETBIOS_PORT), waitForListening(workspace.smbdAddr, DIRECT_PORT)]),
      smbd.exited.then((exit) => {
        throw new Error(`smbd exited at start (${JSON.stringify(exit)}):\n${safeRead(path.join(workspace.dir, 'smbd.out')).slice(-4000)}`);
      }),
    ]);
  } catch (error) {
    await smbd.stop();
    throw error;
  }
  return smbd;
}

/** impacket's SimpleSMBServer as a Python child on ADDR.impacket and a spare port. */
async function startImpacketServer(workspace) {
  const port = await closedPortOn(ADDR.impacket);
  const server = startChild('impacket-smbserver', BIN.python3, [
    path.join(FIXTURES, 'impacket_server.py'),
    ADDR.impacket,
    String(port),
    workspace.share,
  ], { group: true });
  try {
    await server.waitFor(/impacket-smbserver ready/, 30000);
    await waitForListening(ADDR.impacket, port);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return { ...server, host: ADDR.impacket, port };
}

/**
 * tshark capturing on lo into `file` with capture filter `filter`; ready once
 * a probe (a refused connection to `probe`, an address and port the filter
 * covers and nothing listens on) has reached the file.
 */
async function startCapture(file, filter, probe) {
  const tshark = startChild('tshark', BIN.tshark, ['-i', 'lo', '-f', filter, '-w', file, '-B', '64', '-s', '0'], { group: true });
  try {
    await tshark.waitFor(/Capturing on/, 20000, 'tshark to capture');
  } catch (error) {
    await tshark.stop();
    throw error;
  }
  const deadline = Date.now() + 20000;
  const size = () => {
    try {
      return fs.statSync(file).size;
    } catch {
      return 0;
    }
  };
  const empty = size();
  while (size() === empty) {
    if (Date.now() > deadline) {
      await tshark.stop();
      throw new Error(`tshark wrote no packet of the probe to ${file}:\n${tshark.output()}`);
    }
    await new Promise((resolve) => {
      const socket = net.connect(probe);
      socket.once('connect', () => socket.destroy());
      socket.once('error', () => {});
      socket.once('close', resolve);
    });
    await delay(250);
  }
  return {
    ...tshark,
    file,
    /** Stops the capture cleanly; resolves with what tshark reported (captured/dropped counts). */
    async finish() {
      // Let dumpcap read what the kernel still holds, then ask tshark (the
      // leader only: it stops dumpcap cleanly, which writes out the file).
      await delay(1000);
      try {
        process.kill(tshark.pid, 'SIGINT');
      } catch {
        // already gone
      }
      await processExit(tshark.child, 15000);
      await tshark.stop('SIGTERM', 5000);
      const out = tshark.output();
      const captured = /(\d+) packets? captured/.exec(out);
      const dropped = /(\d+) packets? dropped/.exec(out);
      return { captured: captured ? Number(captured[1]) : null, dropped: dropped ? Number(dropped[1]) : 0, output: out };
    },
  };
}

/** smbclient with the suite's client smb.conf; resolves with {code, signal, stdout, stderr} (bounded). */
function smbclient(workspace, args, ms = 30000) {
  return runProcess(BIN.smbclient, ['--configfile', workspace.clientConf, '--no-pass', ...args], { timeout: ms });
}

/**
 * The forwarder example as a child: examples/netbios-fwd.js, unchanged, with
 * fixtures/fwd-preload.js loaded first (binds it to `host`, records each
 * message it writes). `records()` reads what it wrote.
 */
let forwarders = 0;
async function startForwarder(workspace, { host, port, to, directIn = false }) {
  const log = path.join(workspace.dir, `fwd-${host}-${port}-${++forwarders}.jsonl`);
  const args = ['-r', path.join(FIXTURES, 'fwd-preload.js'), path.join(ROOT, 'examples', 'netbios-fwd.js')];
  args.push('--listen', String(port), '--to', to);
  if (directIn) args.push('--direct-in');
  const env = { ...process.env, INTEROP_LISTEN_HOST: host, INTEROP_FWD_LOG: log };
  delete env.NODE_OPTIONS;
  delete env.NODE_TEST_CONTEXT;
  const fwd = startChild(`netbios-fwd ${host}:${port}`, process.execPath, args, { env });
  // It prints its banner from the listen() callback: it is listening then.
  try {
    await fwd.waitFor(/netbios-fwd:/, 15000);
  } catch (error) {
    await fwd.stop();
    throw error;
  }
  return {
    ...fwd,
    log,
    /** [{leg: 'in'|'out', length}, {connected: localPort}, ...] in the order they happened. */
    records() {
      return safeRead(log)
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line));
    },
  };
}

// ---------------------------------------------------------------------------
// SMB messages built by hand

/** A minimal valid SMB2 NEGOTIATE request (MS-SMB2 2.2.1.2 header, 2.2.3 body) offering SMB 2.0.2 and 2.1. */
function smb2Negotiate({ messageId = 0 } = {}) {
  const dialects = [0x0202, 0x0210];
  const header = Buffer.alloc(64);
  header.write('\xfeSMB', 0, 'latin1'); // ProtocolId
  header.writeUInt16LE(64, 4); // StructureSize
  header.writeUInt16LE(0, 6); // CreditCharge
  header.writeUInt32LE(0, 8); // Status
  header.writeUInt16LE(0x0000, 12); // Command: NEGOTIATE
  header.writeUInt16LE(1, 14); // CreditRequest
  header.writeUInt32LE(0, 16); // Flags
  header.writeUInt32LE(0, 20); // NextCommand
  header.writeBigUInt64LE(BigInt(messageId), 24); // MessageId
  header.writeUInt32LE(0xfeff, 32); // Reserved (ProcessId)
  // TreeId, SessionId, Signature: zero
  const body = Buffer.alloc(36 + 2 * dialects.length);
  body.writeUInt16LE(36, 0); // StructureSize
  body.writeUInt16LE(dialects.length, 2); // DialectCount
  body.writeUInt16LE(0x0001, 4); // SecurityMode: signing enabled
  body.writeUInt32LE(0, 8); // Capabilities
  crypto.randomBytes(16).copy(body, 12); // ClientGuid
  // ClientStartTime (8 bytes at 28): zero
  dialects.forEach((dialect, i) => body.writeUInt16LE(dialect, 36 + 2 * i));
  return Buffer.concat([header, body]);
}

/** An SMB1 NEGOTIATE request (MS-CIFS 2.2.4.52.1) offering "NT LM 0.12". */
function smb1Negotiate() {
  const header = Buffer.alloc(32);
  header.write('\xffSMB', 0, 'latin1');
  header[4] = 0x72; // SMB_COM_NEGOTIATE
  header[9] = 0x18; // Flags: case-insensitive, canonicalized paths
  header.writeUInt16LE(0xc801, 10); // Flags2: unicode, NT status, extended security off, long names
  header.writeUInt16LE(0xfeff, 26); // PIDLow
  const dialects = Buffer.from('\x02NT LM 0.12\x00', 'latin1');
  const words = Buffer.from([0]); // WordCount
  const count = Buffer.alloc(2);
  count.writeUInt16LE(dialects.length);
  return Buffer.concat([header, words, count, dialects]);
}

/** Checks an SMB2 NEGOTIATE response header and returns the dialect the server chose. */
function assertSmb2NegotiateResponse(message, who) {
  assert.ok(message.length >= 64 + 65 - 1, `${who}: an SMB2 NEGOTIATE response is at least 128 bytes, got ${message.length}`);
  assert.equal(message.subarray(0, 4).toString('latin1'), '\xfeSMB', `${who}: 0xFE 'SMB' header`);
  assert.equal(message.readUInt16LE(4), 64, `${who}: header StructureSize 64`);
  assert.equal(message.readUInt16LE(12), 0, `${who}: command 0 (NEGOTIATE)`);
  assert.equal(message.readUInt32LE(16) & 0x1, 0x1, `${who}: SMB2_FLAGS_SERVER_TO_REDIR`);
  assert.equal(message.readUInt32LE(8), 0, `${who}: STATUS_SUCCESS`);
  assert.equal(message.readUInt16LE(64), 65, `${who}: NEGOTIATE response StructureSize 65`);
  const dialect = message.readUInt16LE(68);
  assert.ok([0x0202, 0x0210].includes(dialect), `${who}: chose a dialect we offered, got 0x${dialect.toString(16)}`);
  return dialect;
}

// ---------------------------------------------------------------------------
// Capture analysis

// Reassembly on, including out-of-order segments: loopback captures show
// reordered (not lost) segments under load, and a 4 MiB frame spans many.
const READ_OPTIONS = [
  '-o',
  'tcp.desegment_tcp_streams:TRUE',
  '-o',
  'tcp.reassemble_out_of_order:TRUE',
  '-o',
  'nbss.desegment_nbss_commands:TRUE',
];

/**
 * Reads `file` with tshark (TCP and NBSS reassembly on, `decodeAs` ports
 * dissected as NBSS) and returns one row per TCP frame: {frame, stream, src,
 * sport, dst, dport, tcpLen, seq (relative), types, lengths (the NBSS PDUs
 * that completed in this frame), flagsE, malformed, continuation (bytes
 * Wireshark could not frame), continuationHead}.
 */
function readCapture(file, decodeAs = []) {
  const fields = [
    'frame.number',
    'tcp.stream',
    'ip.src',
    'tcp.srcport',
    'ip.dst',
    'tcp.dstport',
    'tcp.len',
    'tcp.seq',
    'nbss.type',
    'nbss.length',
    'nbss.flags.e',
    '_ws.malformed',
    'nbss.continuation_data',
  ];
  const args = ['-r', file, '-n', ...READ_OPTIONS];
  for (const port of decodeAs) args.push('-d', `tcp.port==${port},nbss`);
  args.push('-Y', 'tcp', '-T', 'fields', '-E', 'separator=/t', '-E', 'occurrence=a', '-E', 'aggregator=,');
  for (const field of fields) args.push('-e', field);
  const result = spawnSync(BIN.tshark, args, { encoding: 'utf8', timeout: 120000, maxBuffer: 512 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`tshark -r failed (${result.status} ${result.signal}): ${result.stderr}`);
  const list = (text) => (text ? text.split(',') : []);
  return result.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [frame, stream, src, sport, dst, dport, tcpLen, seq, types, lengths, flagsE, malformed, continuation] = line.split('\t');
      const typeList = list(types).map(Number);
      const lengthList = list(lengths).map(Number);
      return {
        frame: Number(frame),
        stream: Number(stream),
        src,
        sport: Number(sport),
        dst,
        dport: Number(dport),
        tcpLen: Number(tcpLen),
        seq: Number(seq),
        types: typeList,
        lengths: lengthList,
        flagsE: list(flagsE),
        malformed: Boolean(malformed),
        continuation: continuation ? continuation.split(',').reduce((n, hex) => n + hex.replace(/:/g, '').length / 2, 0) : 0,
        continuationHead: continuation ? continuation.replace(/:/g, '').slice(0, 16) : '',
      };
    });
}

/** tshark's frame numbers matching a display filter. */
function countFrames(file, filter, decodeAs = []) {
  const args = ['-r', file, '-n', ...READ_OPTIONS];
  for (const port of decodeAs) args.push('-d', `tcp.port==${port},nbss`);
  args.push('-Y', filter, '-T', 'fields', '-e', 'frame.number');
  const result = spawnSync(BIN.tshark, args, { encoding: 'utf8', timeout: 120000, maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`tshark -r -Y '${filter}' failed: ${result.stderr}`);
  return result.stdout.split('\n').filter(Boolean).map(Number);
}

module.exports = {
  ADDR,
  NETBIOS_PORT,
  DIRECT_PORT,
  NAMES,
  BIN,
  missingPeers,
  peerVersions,
  makeWorkspace,
  startSmbd,
  startImpacketServer,
  startCapture,
  startChild,
  smbclient,
  startForwarder,
  smb2Negotiate,
  smb1Negotiate,
  assertSmb2NegotiateResponse,
  readCapture,
  countFrames,
  READ_OPTIONS,
  waitForListening,
};
