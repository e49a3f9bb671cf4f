'use strict';
// Interop: the package against real peers on loopback. Samba's smbd (its own
// smb.conf in a temporary directory), smbclient, impacket (client and SMB
// server, Python children) and tshark (a capture of all of it, dissected at
// the end). Run with `npm run test:interop`; `npm test` runs it too when the
// peers are installed and prints a skip line when they are not, unless
// NETBIOS_INTEROP=required, which makes a missing peer a failure.
//
// Addresses (127.0.0.0/8 only; see peers.js): smbd 127.0.0.2 (139, 445), our
// called node 127.0.0.3:139, the forwarder 127.0.0.4 (139, 445), impacket's
// server 127.0.0.5 on a spare port.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const net = require('net');
const path = require('path');

const NetbiosSession = require('../..');
const { nextEvent, reader, encodeName, requestFrame, runProcess, withTimeout } = require('../helpers');
const peers = require('./peers');

const { ADDR, NETBIOS_PORT, DIRECT_PORT, NAMES } = peers;
const required = process.env.NETBIOS_INTEROP === 'required';
const missing = peers.missingPeers();

if (missing.length > 0) {
  test('interop suite (smbd, smbclient, impacket, tshark)', (t) => {
    const reason = `interop peers not installed: ${missing.join(', ')}`;
    if (required) assert.fail(`NETBIOS_INTEROP=required, but ${reason}`);
    t.skip(reason);
  });
} else {
  suite();
}

function suite() {
  const started = Date.now();
  let workspace;
  let smbd;
  let impacket;
  let capture;
  let node;
  /** Messages of 64 KiB or more that our code sent, by TCP direction: 'src:port>dst:port' -> [length]. */
  const sentBig = new Map();
  const noteSent = (key, length) => {
    if (length < 65536) return;
    if (!sentBig.has(key)) sentBig.set(key, []);
    sentBig.get(key).push(length);
  };

  test.before(
    async () => {
      const versions = peers.peerVersions();
      console.log(`# interop peers: ${JSON.stringify(versions)}`);
      workspace = peers.makeWorkspace();
      smbd = await peers.startSmbd(workspace);
      impacket = await peers.startImpacketServer(workspace);
      node = await calledNode();
      const hosts = Object.values(ADDR)
        .map((host) => `host ${host}`)
        .join(' or ');
      const ports = [NETBIOS_PORT, DIRECT_PORT, impacket.port].map((port) => `port ${port}`).join(' or ');
      // The probe: 127.0.0.5:139, where nothing listens (impacket uses a spare port).
      capture = await peers.startCapture(path.join(workspace.dir, 'interop.pcapng'), `tcp and (${hosts}) and (${ports})`, {
        host: ADDR.impacket,
        port: NETBIOS_PORT,
      });
    },
    { timeout: 90000 }
  );

  test.after(
    async () => {
      const stops = [];
      if (node) stops.push(node.close());
      if (capture) stops.push(capture.stop('SIGINT'));
      if (impacket) stops.push(impacket.stop());
      if (smbd) stops.push(smbd.stop());
      const results = await Promise.allSettled(stops);
      if (workspace && !process.env.NETBIOS_INTEROP_KEEP) workspace.remove();
      else if (workspace) console.log(`# interop workspace kept: ${workspace.dir}`);
      console.log(`# interop suite run time: ${((Date.now() - started) / 1000).toFixed(1)} s`);
      for (const result of results) if (result.status === 'rejected') throw result.reason;
    },
    { timeout: 60000 }
  );

  // -------------------------------------------------------------------------
  // 1. smbclient calls our node

  /** Runs smbclient against our called node; it fails once we hang up, which is expected. */
  function smbclientToNode(extra = []) {
    return peers.smbclient(
      workspace,
      [`//${NAMES.node}/pub`, '-I', ADDR.node, '-p', String(NETBIOS_PORT), ...extra, '-c', 'ls'],
      30000
    );
  }

  test('check 1a: smbclient -> our called node on 139: its SESSION REQUEST names, then its SMB2 NEGOTIATE as a message', { timeout: 40000 }, async () => {
    const client = smbclientToNode();
    const call = await node.next();
    assert.equal(call.error, null);
    assert.equal(call.request.callTo.name, NAMES.node, 'called name as smbclient sends it (the name in //NAME/share)');
    assert.equal(call.request.callTo.suffix, 0x20);
    assert.equal(call.request.callFrom.name, NAMES.client, "calling name: smbclient's netbios name");
    assert.equal(call.request.callFrom.suffix, 0x00);
    const message = nextEvent(call.session, 'message', 15000);
    call.request.accept();
    const [negotiate] = await message;
    assert.equal(negotiate.subarray(0, 4).toString('latin1'), '\xfeSMB', "SMB2 header 0xFE 'SMB'");
    assert.equal(negotiate.readUInt16LE(12), 0, 'SMB2 command 0: NEGOTIATE');
    assert.equal(negotiate.readUInt16LE(64), 36, 'NEGOTIATE request StructureSize 36');
    call.session.destroy();
    const result = await client;
    assert.equal(result.timedOut, false, 'smbclient ended once we hung up');
  });

  test('check 1b: smbclient with client min/max protocol NT1 -> an SMB1 NEGOTIATE (0xFF SMB)', { timeout: 40000 }, async () => {
    const client = smbclientToNode(['--option=client min protocol=NT1', '--option=client max protocol=NT1']);
    const call = await node.next();
    assert.equal(call.error, null);
    assert.equal(call.request.callTo.name, NAMES.node);
    assert.equal(call.request.callFrom.name, NAMES.client);
    const message = nextEvent(call.session, 'message', 15000);
    call.request.accept();
    const [negotiate] = await message;
    assert.equal(negotiate.subarray(0, 4).toString('latin1'), '\xffSMB', "SMB1 header 0xFF 'SMB'");
    assert.equal(negotiate[4], 0x72, 'SMB1 command 0x72: NEGOTIATE');
    assert.match(negotiate.toString('latin1'), /\x02NT LM 0\.12\x00/, 'offers the NT LM 0.12 dialect');
    call.session.destroy();
    assert.equal((await client).timedOut, false);
  });

  test('check 1c: our node rejects -> smbclient calls again as *SMBSERVER<20>', { timeout: 40000 }, async () => {
    const client = smbclientToNode();
    const first = await node.next();
    assert.equal(first.request.callTo.name, NAMES.node);
    first.request.reject('Called name not present');
    const second = await node.next();
    assert.equal(second.error, null);
    assert.equal(second.request.callTo.name, '*SMBSERVER', 'the second request calls *SMBSERVER');
    assert.equal(second.request.callTo.suffix, 0x20);
    assert.equal(second.request.callFrom.name, NAMES.client, 'from the same calling name');
    assert.equal(second.request.callFrom.suffix, 0x00);
    const message = nextEvent(second.session, 'message', 15000);
    second.request.accept();
    const [negotiate] = await message;
    assert.equal(negotiate.subarray(0, 4).toString('latin1'), '\xfeSMB');
    second.session.destroy();
    assert.equal((await client).timedOut, false);
  });

  // -------------------------------------------------------------------------
  // 2. Our caller against smbd on 139

  test('check 2a: our caller -> smbd on 139: positive response, SMB2 NEGOTIATE answered', { timeout: 30000 }, async () => {
    const session = await call(NETBIOS_PORT, ADDR.smbd, NAMES.smbd, 'NODECALLER');
    const response = await exchange(session, peers.smb2Negotiate());
    peers.assertSmb2NegotiateResponse(response, 'smbd');
    await hangUp(session);
  });

  test('check 2b: a calling name with suffix 0x52 draws smbd NEGATIVE 0x82 (ERR_NETBIOS_REJECTED, errorCode 0x82)', { timeout: 30000 }, async () => {
    const session = new NetbiosSession({ timeout: 15000 });
    const [error] = await withTimeout(
      new Promise((resolve) => session.connect(NETBIOS_PORT, ADDR.smbd, NAMES.smbd, 'NODECALLER<52>', (...args) => resolve(args))),
      'the connect callback',
      20000
    );
    assert.ok(error, 'connect fails');
    assert.equal(error.code, 'ERR_NETBIOS_REJECTED');
    assert.equal(error.errorCode, 0x82);
    assert.equal(error.reason, 'Called name not present');
    assert.equal(error.message, 'Connection failed with response code [Called name not present]');

    // On the wire: 83 00 00 01 82, then smbd closes.
    const raw = net.connect({ host: ADDR.smbd, port: NETBIOS_PORT });
    raw.on('error', () => {});
    const rawIn = reader(raw);
    raw.write(requestFrame(encodeName(NAMES.smbd, 0x20), encodeName('NODECALLER', 0x52)));
    assert.deepEqual([...(await rawIn.rest(15000))], [0x83, 0x00, 0x00, 0x01, 0x82]);
    raw.destroy();
  });

  test("check 2c: smbd's netbios retarget name: our caller follows to the direct port and completes", { timeout: 30000 }, async () => {
    const session = new NetbiosSession({ timeout: 15000 });
    session.errors = [];
    session.on('error', (error) => session.errors.push(error));
    const retargets = [];
    session.on('retarget', (where) => retargets.push(where));
    const connected = nextEvent(session, 'connect', 20000);
    const [error] = await withTimeout(
      new Promise((resolve) => session.connect(NETBIOS_PORT, ADDR.smbd, NAMES.retarget, 'NODECALLER', (...args) => resolve(args))),
      'the connect callback',
      20000
    );
    assert.equal(error, undefined);
    await connected;
    assert.deepEqual(retargets, [{ host: ADDR.smbd, port: DIRECT_PORT }], "one 'retarget' to smbd's direct port");
    const response = await exchange(session, peers.smb2Negotiate());
    peers.assertSmb2NegotiateResponse(response, 'smbd (retargeted)');
    await hangUp(session);
  });

  // -------------------------------------------------------------------------
  // 3. The forwarder example between smbclient and smbd

  /** smbclient get of the test file and put of it back, through a forwarder; both must match byte for byte. */
  async function getAndPut(fwd, port, label, options = []) {
    const target = ['-I', ADDR.fwd, '-p', String(port), ...options];
    const local = path.join(workspace.downloads, `${label}.bin`);
    const got = await peers.smbclient(workspace, [`//${NAMES.smbd}/pub`, ...target, '-c', `get ${workspace.fileName} ${local}`], 60000);
    assert.equal(got.code, 0, `smbclient get through the forwarder: ${got.stdout}${got.stderr}\nforwarder: ${fwd.output()}`);
    assert.ok(fs.readFileSync(local).equals(workspace.file), `${label}: the downloaded file matches byte for byte`);
    const remote = `${label}.bin`;
    const put = await peers.smbclient(workspace, [`//${NAMES.smbd}/drop`, ...target, '-c', `put ${local} ${remote}`], 60000);
    assert.equal(put.code, 0, `smbclient put through the forwarder: ${put.stdout}${put.stderr}\nforwarder: ${fwd.output()}`);
    assert.ok(fs.readFileSync(path.join(workspace.drop, remote)).equals(workspace.file), `${label}: the uploaded file matches byte for byte`);
  }

  /** What a forwarder wrote: lengths per leg, and its big messages noted for check 5. */
  function forwarderWrites(fwd, { note = true } = {}) {
    const records = fwd.records();
    // The n-th outbound session made the n-th outgoing connection (one call at a time).
    const connections = new Map(records.filter((r) => r.connected !== undefined).map((r) => [r.connected, r]));
    const out = [];
    const inbound = [];
    for (const r of records) {
      if (r.refused) continue;
      if (r.leg === 'in') {
        inbound.push(r.length);
        if (note) noteSent(`${r.local}>${r.peer}`, r.length);
      } else if (r.leg === 'out') {
        out.push(r.length);
        const socket = connections.get(r.session);
        // (No connection: a call the forwarder gave up before it connected.)
        if (note && socket) noteSent(`${socket.local}>${socket.peer}`, r.length);
      }
    }
    return { inbound, out };
  }

  /** Check 3a with smbclient's `options`: a forwarder with NetBIOS in on 139, direct TCP out to smbd. */
  async function viaNetbiosForwarder(t, label, options) {
    const fwd = await peers.startForwarder(workspace, { host: ADDR.fwd, port: NETBIOS_PORT, to: `${ADDR.smbd}:${DIRECT_PORT}` });
    t.after(() => fwd.stop());
    try {
      await getAndPut(fwd, NETBIOS_PORT, label, options);
    } finally {
      forwarderWrites(fwd);
    }
    const { inbound, out } = forwarderWrites(fwd, { note: false });
    assert.ok(inbound.length > 0 && out.length > 0, 'messages crossed both ways');
    assert.ok(Math.max(...inbound) >= 65536, 'messages of 64 KiB or more crossed the NetBIOS leg (E bit)');
    assert.doesNotMatch(fwd.output(), /forwarding stopped: ERR/, fwd.output());
    t.diagnostic(`NetBIOS leg: ${inbound.length} messages to smbclient (largest ${Math.max(...inbound)}), ${out.length} to smbd (largest ${Math.max(...out)})`);
  }

  test('check 3a (SMB 2.0.2 client): smbclient -> forwarder (NetBIOS on 139) -> smbd direct TCP: get and put match byte for byte', { timeout: 120000 }, async (t) => {
    // SMB 2.0.2 has no multi-credit (large MTU): every message stays at
    // 64 KiB and a little more, RFC 1002 frames with the E bit, as the issue
    // describes. (With SMB 3 defaults smbd grants ~4 MiB reads through the
    // forwarder, which then uses 24-bit frames on 139; that works, but
    // Wireshark 4.0 dissects port 139 with 17-bit lengths only, so check 5
    // could not judge that leg.)
    await viaNetbiosForwarder(t, 'via-fwd-139-smb2_02', ['--option=client max protocol=SMB2_02']);
  });

  test('check 3b: smbclient direct TCP -> forwarder --direct-in on 445 -> smbd: get and put match, frames over 128 KiB both ways', { timeout: 120000 }, async (t) => {
    const fwd = await peers.startForwarder(workspace, {
      host: ADDR.fwd,
      port: DIRECT_PORT,
      to: `${ADDR.smbd}:${DIRECT_PORT}`,
      directIn: true,
    });
    t.after(() => fwd.stop());
    try {
      await getAndPut(fwd, DIRECT_PORT, 'via-fwd-445');
    } finally {
      forwarderWrites(fwd);
    }
    const { inbound, out } = forwarderWrites(fwd, { note: false });
    const bigIn = Math.max(...inbound);
    const bigOut = Math.max(...out);
    assert.ok(bigIn > 131072, `a frame over 128 KiB went smbd -> forwarder -> smbclient (largest ${bigIn})`);
    assert.ok(bigOut > 131072, `a frame over 128 KiB went smbclient -> forwarder -> smbd (largest ${bigOut})`);
    assert.doesNotMatch(fwd.output(), /forwarding stopped: ERR/, fwd.output());
    t.diagnostic(`direct legs: largest frame to smbclient ${bigIn} bytes, to smbd ${bigOut} bytes`);
  });

  // -------------------------------------------------------------------------
  // 4. impacket

  test("check 4a: impacket's NetBIOSTCPSession -> our called node: established, a 100000-byte message echoed intact", { timeout: 40000 }, async () => {
    const size = 100000;
    const client = runProcess(
      peers.BIN.python3,
      [path.join(__dirname, 'fixtures', 'impacket_client.py'), ADDR.node, String(NETBIOS_PORT), NAMES.node, 'PYCLIENT', String(size)],
      { timeout: 30000 }
    );
    const arrival = await node.next();
    assert.equal(arrival.error, null);
    assert.equal(arrival.request.callTo.name, NAMES.node);
    assert.equal(arrival.request.callTo.suffix, 0x20);
    assert.equal(arrival.request.callFrom.name, 'PYCLIENT');
    assert.equal(arrival.request.callFrom.suffix, 0x00);
    const { session, socket } = arrival;
    const key = `${socket.localAddress}:${socket.localPort}>${socket.remoteAddress}:${socket.remotePort}`;
    const received = [];
    session.on('message', (message) => {
      received.push(message.length);
      noteSent(key, message.length);
      session.write(Buffer.from(message));
    });
    arrival.request.accept();
    const result = await client;
    assert.equal(result.code, 0, `impacket client: ${result.stdout}${result.stderr}`);
    const summary = JSON.parse(result.stdout.trim().split('\n').pop());
    assert.deepEqual(received, [size], 'our node received one 100000-byte message');
    assert.equal(summary.established, true);
    assert.equal(summary.received, size);
    assert.equal(summary.declaredLength, size, 'impacket read the length we sent');
    assert.equal(summary.intact, true, 'the echo came back intact');
    session.end();
  });

  test("check 4b: our caller -> impacket's SimpleSMBServer: positive response with a trailer, SMB NEGOTIATE answered", { timeout: 40000 }, async () => {
    // The trailer is there (seen raw), so the tolerance is really exercised.
    const raw = net.connect({ host: impacket.host, port: impacket.port });
    raw.on('error', () => {});
    const rawIn = reader(raw);
    const request = requestFrame(encodeName('IMPACKETSRV', 0x20), encodeName('PROBE', 0x00));
    raw.write(request);
    const header = await rawIn.read(4, 15000);
    assert.equal(header[0], 0x82, 'POSITIVE SESSION RESPONSE');
    const trailerLength = header.readUInt16BE(2) | ((header[1] & 0x01) << 16);
    assert.equal(trailerLength, 68, 'impacket puts a 68-byte trailer on its positive response');
    assert.deepEqual(await rawIn.read(trailerLength, 15000), request.subarray(4), "the trailer is the request's names");
    raw.destroy();

    // SMB2 (impacket has SMB2 support on) ...
    const session = await call(impacket.port, impacket.host, 'IMPACKETSRV', 'NODECALLER');
    const response = await exchange(session, peers.smb2Negotiate());
    assert.equal(response.subarray(0, 4).toString('latin1'), '\xfeSMB', "impacket answers 0xFE 'SMB'");
    assert.equal(response.readUInt16LE(12), 0, 'command 0: NEGOTIATE');
    assert.equal(response.readUInt32LE(8), 0, 'STATUS_SUCCESS');
    await hangUp(session);

    // ... and SMB1 on a second session.
    const session1 = await call(impacket.port, impacket.host, 'IMPACKETSRV', 'NODECALLER');
    const response1 = await exchange(session1, peers.smb1Negotiate());
    assert.equal(response1.subarray(0, 4).toString('latin1'), '\xffSMB', "impacket answers 0xFF 'SMB'");
    assert.equal(response1[4], 0x72, 'command 0x72: NEGOTIATE');
    assert.equal(response1[9] & 0x80, 0x80, 'a reply');
    await hangUp(session1);
  });

  // -------------------------------------------------------------------------
  // 5. tshark dissects the capture of everything above

  test('check 5: tshark dissects the capture: no malformed frame, every NetBIOS length agrees with what was sent', { timeout: 180000 }, async (t) => {
    // A last call marks the end: seeing it in the file proves the capture is complete.
    const marker = net.connect({ host: ADDR.node, port: NETBIOS_PORT });
    marker.on('error', () => {});
    const markerIn = reader(marker);
    marker.write(requestFrame(encodeName('CAPTUREEND', 0x20), encodeName('INTEROPSUITE', 0x00)));
    const last = await node.next();
    assert.equal(last.request.callTo.name, 'CAPTUREEND');
    const lastClosed = nextEvent(last.session, 'close', 15000);
    last.request.reject('Not listening on called name');
    assert.deepEqual([...(await markerIn.read(5, 15000))], [0x83, 0, 0, 1, 0x80]);
    marker.end();
    await lastClosed;
    marker.destroy();

    const finished = await capture.finish();
    assert.equal(finished.dropped, 0, `the capture dropped no packet: ${finished.output}`);
    const decodeAs = [impacket.port];
    const frames = peers.readCapture(capture.file, decodeAs);
    t.diagnostic(`capture: ${frames.length} TCP frames, ${finished.captured} packets captured`);
    assert.ok(frames.length > 0);

    assert.deepEqual(peers.countFrames(capture.file, '_ws.malformed', decodeAs), [], 'no malformed frame');
    assert.deepEqual(peers.countFrames(capture.file, '_ws.expert.severity >= 8388608', decodeAs), [], 'no expert info of severity error');

    // Framing: in every TCP direction Wireshark's NBSS frames (4-byte header +
    // length) add up to exactly the bytes that crossed (the highest relative
    // sequence number reached, so retransmitted and reordered segments count
    // once). The only unframed bytes allowed are impacket's positive
    // responses with their 68-byte trailer (Wireshark calls a POSITIVE with a
    // trailer a continuation).
    const directions = new Map();
    for (const f of frames) {
      const key = `${f.src}:${f.sport}>${f.dst}:${f.dport}`;
      if (!directions.has(key)) directions.set(key, { bytes: 0, framed: 0, unframed: [], lengths: [], flagged: [] });
      const d = directions.get(key);
      if (f.tcpLen > 0) d.bytes = Math.max(d.bytes, f.seq + f.tcpLen - 1);
      d.framed += f.lengths.reduce((n, length) => n + length + 4, 0);
      if (f.continuation) d.unframed.push({ frame: f.frame, bytes: f.continuation, head: f.continuationHead });
      d.lengths.push(...f.lengths);
      if (f.flagsE.length === f.lengths.length) f.lengths.forEach((length, i) => d.flagged.push([length, f.flagsE[i]]));
    }
    for (const [key, d] of directions) {
      const fromImpacket = key.startsWith(`${impacket.host}:${impacket.port}>`);
      for (const u of d.unframed) {
        assert.ok(fromImpacket && u.bytes === 72 && u.head.startsWith('82000044'), `${key}: unframed bytes at frame ${u.frame}: ${JSON.stringify(u)}`);
      }
      const unframed = d.unframed.reduce((n, u) => n + u.bytes, 0);
      assert.equal(d.framed + unframed, d.bytes, `${key}: NBSS lengths + headers add up to the TCP payload`);
    }

    // Lengths of 64 KiB or more: Wireshark must read exactly the lengths our
    // code sent (our called node, the forwarder's two legs).
    const ourSenders = [`${ADDR.node}:`, `${ADDR.fwd}:`];
    const seenBig = new Map();
    for (const [key, d] of directions) {
      const big = d.lengths.filter((length) => length >= 65536);
      if (big.length) seenBig.set(key, big);
    }
    for (const [key, lengths] of sentBig) {
      assert.deepEqual(seenBig.get(key) || [], lengths, `${key}: Wireshark's nbss.length values >= 65536 are the ones we sent`);
    }
    for (const [key, lengths] of seenBig) {
      if (ourSenders.some((prefix) => key.startsWith(prefix))) {
        assert.deepEqual(lengths, sentBig.get(key) || [], `${key}: no big frame of ours that we did not record`);
      }
    }
    // On NetBIOS ports, Wireshark read every such length through the E bit.
    let eChecked = 0;
    for (const [key, d] of directions) {
      const [src, dst] = key.split('>');
      const netbios = [src, dst].some((end) => end.endsWith(`:${NETBIOS_PORT}`) || end.endsWith(`:${impacket.port}`));
      if (!netbios) continue;
      for (const [length, e] of d.flagged) {
        if (length < 65536) continue;
        assert.ok(e === '1' || e === 'True', `${key}: a ${length}-byte NetBIOS message has the E bit set (got ${e})`);
        eChecked++;
      }
    }

    // The capture covers what the checks claim.
    const sum = (prefix) => [...seenBig].filter(([key]) => key.startsWith(prefix)).flatMap(([, lengths]) => lengths);
    const echo = sum(`${ADDR.node}:${NETBIOS_PORT}>`);
    assert.ok(echo.includes(100000), 'the 100000-byte echo to impacket is in the capture');
    assert.ok(eChecked >= 2, `E bits checked on NetBIOS ports: ${eChecked}`);
    const toSmbclient139 = sum(`${ADDR.fwd}:${NETBIOS_PORT}>`);
    assert.ok(toSmbclient139.length > 0 && Math.max(...toSmbclient139) <= 131071, 'the forwarder sent 64 KiB+ NetBIOS frames to smbclient');
    const over128 = (list) => list.filter((length) => length > 131072).length;
    const toSmbd = [...seenBig].filter(([key]) => key.endsWith(`>${ADDR.smbd}:${DIRECT_PORT}`)).flatMap(([, l]) => l);
    const fromSmbd = sum(`${ADDR.smbd}:${DIRECT_PORT}>`);
    const toClient445 = sum(`${ADDR.fwd}:${DIRECT_PORT}>`);
    const fromClient445 = [...seenBig].filter(([key]) => key.endsWith(`>${ADDR.fwd}:${DIRECT_PORT}`)).flatMap(([, l]) => l);
    assert.ok(over128(toSmbd) > 0 && over128(fromSmbd) > 0, 'frames over 128 KiB to and from smbd on the direct port');
    assert.ok(over128(toClient445) > 0 && over128(fromClient445) > 0, 'frames over 128 KiB to and from smbclient on the forwarder (b)');

    // The handshakes as Wireshark reads them.
    const nbss = (filter, ...fields) => nbssFields(capture.file, filter, fields, decodeAs);
    const negatives = nbss(`ip.src == ${ADDR.smbd} && tcp.srcport == ${NETBIOS_PORT} && nbss.type == 0x83`, 'nbss.error_code');
    assert.deepEqual(negatives, [['0x82'], ['0x82']], "smbd's negative responses (check 2b, twice) carry 0x82");
    const retargets = nbss('nbss.type == 0x84', 'ip.src', 'nbss.retarget_ip_address', 'nbss.retarget_port');
    assert.deepEqual(retargets, [[ADDR.smbd, ADDR.smbd, String(DIRECT_PORT)]], "smbd's retarget names its direct port");
    const called = nbss(`ip.dst == ${ADDR.node} && nbss.type == 0x81`, 'nbss.called_name', 'nbss.calling_name');
    assert.deepEqual(
      called.map(([to, from]) => `${to} from ${from}`),
      [
        `${NAMES.node}<20> from ${NAMES.client}<00>`,
        `${NAMES.node}<20> from ${NAMES.client}<00>`,
        `${NAMES.node}<20> from ${NAMES.client}<00>`,
        `*SMBSERVER<20> from ${NAMES.client}<00>`,
        `${NAMES.node}<20> from PYCLIENT<00>`,
        'CAPTUREEND<20> from INTEROPSUITE<00>',
      ],
      'the session requests our node received, as Wireshark decodes them'
    );
    t.diagnostic(
      `NBSS directions: ${directions.size}; frames >= 64 KiB checked: ${[...seenBig.values()].flat().length} ` +
        `(E bit checked on ${eChecked} on NetBIOS ports); largest: ${Math.max(...[...seenBig.values()].flat())}`
    );
  });

  // -------------------------------------------------------------------------
  // Fixtures

  /** Our called node on ADDR.node:139; `next()` resolves with the next {session, socket, request, error}. */
  async function calledNode() {
    const arrivals = [];
    const waiting = [];
    const sessions = new Set();
    const server = net.createServer((socket) => {
      socket.on('error', () => {});
      const session = new NetbiosSession({ requestTimeout: 15000 });
      sessions.add(session);
      session.on('error', () => {});
      session.on('close', () => sessions.delete(session));
      session.attach(socket, (error, request) => {
        const arrival = { session, socket, request, error };
        if (waiting.length) waiting.shift()(arrival);
        else arrivals.push(arrival);
      });
    });
    server.listen(NETBIOS_PORT, ADDR.node);
    await nextEvent(server, 'listening');
    return {
      next(ms = 20000) {
        if (arrivals.length) return Promise.resolve(arrivals.shift());
        return withTimeout(new Promise((resolve) => waiting.push(resolve)), 'a call to our node', ms);
      },
      async close() {
        for (const session of sessions) session.destroy();
        await new Promise((resolve) => server.close(resolve));
      },
    };
  }

  /** A NetBIOS session connect()ed to host:port, established (bounded). */
  async function call(port, host, callTo, callFrom) {
    const session = new NetbiosSession({ timeout: 15000 });
    const errors = [];
    session.on('error', (error) => errors.push(error));
    const [error] = await withTimeout(
      new Promise((resolve) => session.connect(port, host, callTo, callFrom, (...args) => resolve(args))),
      `the session to ${host}:${port}`,
      20000
    );
    assert.equal(error, undefined, `session to ${callTo} at ${host}:${port} established`);
    session.errors = errors;
    return session;
  }

  /** Sends one message and resolves with the next one received. */
  async function exchange(session, message) {
    const reply = nextEvent(session, 'message', 15000);
    session.write(message);
    const [response] = await reply;
    return Buffer.from(response);
  }

  async function hangUp(session) {
    const closed = nextEvent(session, 'close', 15000);
    session.end();
    await closed;
    assert.deepEqual(session.errors, [], 'no session error');
  }
}

/** Rows of tshark fields for NBSS frames matching `filter`. */
function nbssFields(file, filter, fields, decodeAs) {
  const { spawnSync } = require('child_process');
  const args = ['-r', file, '-n', ...peers.READ_OPTIONS];
  for (const port of decodeAs) args.push('-d', `tcp.port==${port},nbss`);
  args.push('-Y', filter, '-T', 'fields', '-E', 'separator=/t');
  for (const field of fields) args.push('-e', field);
  const result = spawnSync(peers.BIN.tshark, args, { encoding: 'utf8', timeout: 120000, maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`tshark -Y '${filter}' failed: ${result.stderr}`);
  return result.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split('\t'));
}
