'use strict';
// Interop of the Rust driver (crates/netbios-session-tokio) and its `nbss`
// tool against the same real peers as interop.test.js: `nbss probe` calls
// smbd (SMB2 NEGOTIATE answered, a 0x52 calling name refused with 0x82,
// smbd's retarget name followed to its direct port); smbclient and impacket
// call `nbss serve`; smbclient gets and puts a file through `nbss bridge`
// to smbd's port 445, byte for byte. Skipped (or failed, with
// NETBIOS_INTEROP=required) as interop.test.js is, and when cargo is missing.
//
// Addresses of their own (127.0.0.0/8 only), so this suite and
// interop.test.js may run at once: smbd 127.0.0.12 (139, 445), `nbss serve`
// 127.0.0.13:139 and 127.0.0.15:139, `nbss bridge` 127.0.0.14:139.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const { runProcess } = require('../helpers');
const peers = require('./peers');

const { NETBIOS_PORT, DIRECT_PORT, NAMES } = peers;
const ADDR = {
  smbd: '127.0.0.12',
  serve: '127.0.0.13', // accepts NAMES.node
  fallback: '127.0.0.15', // accepts *SMBSERVER only
  bridge: '127.0.0.14',
};
const ROOT = path.join(__dirname, '..', '..');
const required = process.env.NETBIOS_INTEROP === 'required';

/** Builds `nbss` with cargo; its path, or null (and why) when cargo cannot. */
function buildNbss() {
  const result = spawnSync('cargo', ['build', '--quiet', '-p', 'nbss', '--message-format=json-render-diagnostics'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 600000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error) return { error: `cargo: ${result.error.message}` };
  if (result.status !== 0) return { error: `cargo build -p nbss failed:\n${result.stderr}` };
  for (const line of result.stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    const message = JSON.parse(line);
    if (message.reason === 'compiler-artifact' && message.target.name === 'nbss' && message.executable) return { path: message.executable };
  }
  return { error: 'cargo built nbss but reported no executable' };
}

const missing = peers.missingPeers();
if (missing.length > 0) {
  test('rust interop suite (nbss against smbd, smbclient, impacket)', (t) => {
    const reason = `interop peers not installed: ${missing.join(', ')}`;
    if (required) assert.fail(`NETBIOS_INTEROP=required, but ${reason}`);
    t.skip(reason);
  });
} else {
  suite();
}

function suite() {
  let nbss;
  let workspace;
  let smbd;
  const children = [];

  /** Starts `nbss ARGS` and waits for its `listening on` line. */
  async function startNbss(name, args) {
    const child = peers.startChild(name, nbss, args);
    children.push(child);
    await child.waitFor(/listening on /, 15000, `${name} to listen`);
    return child;
  }

  /** Runs `nbss probe HOST --json ARGS`; its exit code and one object per attempt. */
  async function probe(args) {
    const result = await runProcess(nbss, ['probe', ADDR.smbd, '--json', '--timeout-ms', '10000', ...args], { timeout: 60000 });
    assert.equal(result.timedOut, false, 'nbss probe finished');
    const lines = result.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line));
    return { code: result.code, lines, text: `${result.stdout}${result.stderr}` };
  }

  const netbiosLine = (lines, called) => lines.find((line) => line.path === 'netbios' && line.called === called);

  test.before(
    async () => {
      const built = buildNbss();
      if (built.error) {
        // cargo is one of this suite's peers: required as the others are.
        if (required) throw new Error(built.error);
        return;
      }
      nbss = built.path;
      console.log(`# nbss: ${nbss}`);
      workspace = peers.makeWorkspace({ smbdAddr: ADDR.smbd });
      smbd = await peers.startSmbd(workspace);
    },
    { timeout: 600000 }
  );

  test.after(
    async () => {
      const results = await Promise.allSettled([...children.map((child) => child.stop()), smbd && smbd.stop()]);
      if (workspace) workspace.remove();
      for (const result of results) if (result.status === 'rejected') throw result.reason;
    },
    { timeout: 60000 }
  );

  const skipWithoutNbss = (t) => {
    if (nbss) return false;
    t.skip('cargo is not installed: nbss cannot be built');
    return true;
  };

  test('nbss probe -> smbd: direct TCP and NetBIOS established, SMB2 NEGOTIATE answered on both', { timeout: 90000 }, async (t) => {
    if (skipWithoutNbss(t)) return;
    const { code, lines, text } = await probe(['--called', NAMES.smbd, '--calling', 'NBSSPROBE']);
    t.diagnostic(text.trim());
    assert.equal(code, 0, text);
    const direct = lines.find((line) => line.path === 'direct');
    assert.equal(direct.port, DIRECT_PORT);
    assert.equal(direct.result, 'established', text);
    assert.equal(direct.smb2.negotiate, 'ok', text);
    const netbios = netbiosLine(lines, `${NAMES.smbd}<20>`);
    assert.equal(netbios.port, NETBIOS_PORT);
    assert.equal(netbios.calling, 'NBSSPROBE<00>');
    assert.equal(netbios.result, 'established', text);
    assert.equal(netbios.smb2.negotiate, 'ok', text);
    assert.match(netbios.smb2.dialect, /^0x0[23][0-9a-f]{2}$/, 'an SMB2 or SMB3 dialect');
    assert.deepEqual(netbios.retargets, []);
  });

  test('nbss probe with calling suffix 0x52: smbd answers NEGATIVE 0x82 (Called name not present)', { timeout: 90000 }, async (t) => {
    if (skipWithoutNbss(t)) return;
    const { lines, text } = await probe(['--called', NAMES.smbd, '--calling', 'NBSSPROBE<52>']);
    t.diagnostic(text.trim());
    const netbios = netbiosLine(lines, `${NAMES.smbd}<20>`);
    assert.equal(netbios.result, 'rejected', text);
    assert.equal(netbios.code, '0x82');
    assert.equal(netbios.reason, 'Called name not present');
    assert.equal(netbios.error, 'Connection failed with response code [Called name not present]');
  });

  test("nbss probe calling smbd's retarget name: the retarget to its direct port is followed, NEGOTIATE answered there", { timeout: 90000 }, async (t) => {
    if (skipWithoutNbss(t)) return;
    const { lines, text } = await probe(['--called', NAMES.retarget]);
    t.diagnostic(text.trim());
    const netbios = netbiosLine(lines, `${NAMES.retarget}<20>`);
    assert.equal(netbios.result, 'established', text);
    assert.deepEqual(netbios.retargets, [`${ADDR.smbd}:${DIRECT_PORT}`], 'one retarget, to the address smbd named');
    assert.equal(netbios.smb2.negotiate, 'ok', text);
  });

  test('smbclient -> nbss serve: its SESSION REQUEST names accepted, its SMB2 NEGOTIATE received as a message', { timeout: 60000 }, async (t) => {
    if (skipWithoutNbss(t)) return;
    const serve = await startNbss('nbss serve', ['serve', '--listen', `${ADDR.serve}:${NETBIOS_PORT}`, '--name', NAMES.node]);
    // The echo server sends smbclient's NEGOTIATE back, which smbclient refuses: it fails, as expected.
    const client = await peers.smbclient(workspace, [`//${NAMES.node}/pub`, '-I', ADDR.serve, '-p', String(NETBIOS_PORT), '-c', 'ls'], 30000);
    assert.equal(client.timedOut, false);
    await serve.waitFor(new RegExp(`session ended.*called=${NAMES.node}<20> calling=${NAMES.client}<00>.*answer="accepted".*messages=[1-9]`), 15000, 'the session log line');
  });

  test('smbclient -> nbss serve that only answers *SMBSERVER: refused with 0x82, smbclient calls again as *SMBSERVER<20>', { timeout: 60000 }, async (t) => {
    if (skipWithoutNbss(t)) return;
    const serve = await startNbss('nbss serve *SMBSERVER', ['serve', '--listen', `${ADDR.fallback}:${NETBIOS_PORT}`, '--name', '*SMBSERVER']);
    const client = await peers.smbclient(workspace, [`//${NAMES.node}/pub`, '-I', ADDR.fallback, '-p', String(NETBIOS_PORT), '-c', 'ls'], 30000);
    assert.equal(client.timedOut, false);
    await serve.waitFor(new RegExp(`called=${NAMES.node}<20> calling=${NAMES.client}<00>.*answer="rejected 0x82`), 15000, 'the refusal');
    await serve.waitFor(new RegExp(`called=\\*SMBSERVER<20> calling=${NAMES.client}<00>.*answer="accepted".*messages=[1-9]`), 15000, 'the second call');
  });

  test("impacket's NetBIOSTCPSession -> nbss serve: established, a 100000-byte message echoed intact", { timeout: 60000 }, async (t) => {
    if (skipWithoutNbss(t)) return;
    const serve = children.find((child) => child.name === 'nbss serve') ||
      (await startNbss('nbss serve', ['serve', '--listen', `${ADDR.serve}:${NETBIOS_PORT}`, '--name', NAMES.node]));
    const size = 100000;
    const result = await runProcess(
      peers.BIN.python3,
      [path.join(__dirname, 'fixtures', 'impacket_client.py'), ADDR.serve, String(NETBIOS_PORT), NAMES.node, 'PYCLIENT', String(size)],
      { timeout: 30000 }
    );
    assert.equal(result.code, 0, `impacket client: ${result.stdout}${result.stderr}\nserve: ${serve.output()}`);
    const summary = JSON.parse(result.stdout.trim().split('\n').pop());
    assert.equal(summary.established, true);
    assert.equal(summary.declaredLength, size, 'impacket read the length nbss sent');
    assert.equal(summary.intact, true, 'the echo came back intact');
    await serve.waitFor(new RegExp(`calling=PYCLIENT<00>.*messages=1 bytes=${size}`), 15000, 'the session log line');
  });

  /** smbclient get and put of the test file through `host:port`; both must match byte for byte. */
  async function getAndPut(label, host, options) {
    const target = ['-I', host, '-p', String(NETBIOS_PORT), ...options];
    const local = path.join(workspace.downloads, `${label}.bin`);
    const got = await peers.smbclient(workspace, [`//${NAMES.smbd}/pub`, ...target, '-c', `get ${workspace.fileName} ${local}`], 60000);
    assert.equal(got.code, 0, `smbclient get: ${got.stdout}${got.stderr}`);
    assert.ok(fs.readFileSync(local).equals(workspace.file), `${label}: the downloaded file matches byte for byte`);
    const put = await peers.smbclient(workspace, [`//${NAMES.smbd}/drop`, ...target, '-c', `put ${local} ${label}.bin`], 60000);
    assert.equal(put.code, 0, `smbclient put: ${put.stdout}${put.stderr}`);
    assert.ok(fs.readFileSync(path.join(workspace.drop, `${label}.bin`)).equals(workspace.file), `${label}: the uploaded file matches byte for byte`);
  }

  test('smbclient -> nbss bridge (NetBIOS on 139) -> smbd direct TCP on 445: get and put of a multi-MiB file match byte for byte', { timeout: 180000 }, async (t) => {
    if (skipWithoutNbss(t)) return;
    // smbd grants SMB3 reads of several MiB: the NetBIOS leg carries them
    // with 24-bit lengths, which Samba's client reads, once allowed.
    const bridge = await startNbss('nbss bridge', [
      'bridge',
      '--listen',
      `${ADDR.bridge}:${NETBIOS_PORT}`,
      '--to',
      `${ADDR.smbd}:${DIRECT_PORT}`,
      '--max-message-length',
      '16777215',
    ]);
    await getAndPut('via-nbss-bridge-smb3', ADDR.bridge, []);
    // SMB 2.0.2: messages of 64 KiB and a little more, RFC 1002's E bit.
    await getAndPut('via-nbss-bridge-smb2_02', ADDR.bridge, ['--option=client max protocol=SMB2_02']);
    await bridge.waitFor(/session ended.*server_to_client_bytes=[1-9]/, 15000, "the bridge's session log line");
    t.diagnostic(bridge.output().split('\n').filter((line) => line.includes('session ended')).join('\n'));
    const stopped = await bridge.stop('SIGTERM');
    assert.equal(stopped.code, 0, `the bridge exits 0 on SIGTERM: ${JSON.stringify(stopped)}`);
  });
}
