'use strict';
// The release targets (lib/platform.js), the addon loader (lib/addon.js) and
// the platform package that scripts/pack-platform.js makes. The install
// itself, through a registry, is tested in __test__/install/.

const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const platform = require('../lib/platform');
const addon = require('../lib/addon');
const manifest = require('../package.json');

const ROOT = path.join(__dirname, '..');

test('package.json lists every release target as an optional dependency at its own exact version', () => {
  assert.deepEqual(manifest.optionalDependencies,
    Object.fromEntries(platform.TARGETS.map((target) => [target.package, manifest.version])));
});

test('release targets: one per triple and package; libc only on Linux; names follow os-cpu', () => {
  assert.equal(platform.TARGETS.length, 8);
  for (const key of ['triple', 'package', 'file']) {
    assert.equal(new Set(platform.TARGETS.map((target) => target[key])).size, 8, `${key} is unique`);
  }
  for (const target of platform.TARGETS) {
    assert.equal(target.libc !== null, target.os === 'linux', target.triple);
    assert.ok(target.suffix.startsWith(`${target.os}-${target.cpu}`), target.suffix);
    assert.equal(target.file, `netbios-session.${target.suffix}.node`);
  }
});

test('this machine is detected as Node and its C library see it', () => {
  const machine = platform.current();
  assert.equal(machine.os, process.platform);
  assert.equal(machine.cpu, process.arch);
  const expected = process.platform !== 'linux' ? null
    : process.report.getReport().header.glibcVersionRuntime ? 'glibc' : 'musl';
  assert.equal(machine.libc, expected);
  assert.equal(machine.name, [machine.os, machine.cpu, machine.libc].filter(Boolean).join('-'));
});

test('each platform maps to its target, libc included; others to none', () => {
  const of = (os, cpu, libc) => platform.targetFor({ os, cpu, libc });
  assert.equal(of('linux', 'x64', 'glibc').triple, 'x86_64-unknown-linux-gnu');
  assert.equal(of('linux', 'x64', 'musl').package, 'netbios-session-linux-x64-musl');
  assert.equal(of('linux', 'arm64', 'musl').triple, 'aarch64-unknown-linux-musl');
  assert.equal(of('darwin', 'arm64', null).package, 'netbios-session-darwin-arm64');
  assert.equal(of('win32', 'x64', null).triple, 'x86_64-pc-windows-msvc');
  assert.equal(of('linux', 'x64', null), undefined, 'an unknown C library gets no prebuilt');
  assert.equal(of('freebsd', 'x64', null), undefined);
});

const here = platform.targetFor(platform.current());

/**
 * A copy of the package's JS and manifests, without any addon, in a
 * temporary folder: inside a node_modules (an installed package) unless
 * `clone`. Returns the package folder.
 */
function bareCopy(t, { clone = false } = {}) {
  const top = fs.mkdtempSync(path.join(os.tmpdir(), 'netbios-session-loader-'));
  t.after(() => fs.rmSync(top, { recursive: true, force: true }));
  const dir = clone ? path.join(top, 'netbios-session') : path.join(top, 'node_modules', 'netbios-session');
  fs.mkdirSync(dir, { recursive: true });
  fs.cpSync(path.join(ROOT, 'lib'), path.join(dir, 'lib'), { recursive: true });
  for (const file of ['package.json', 'Cargo.toml', 'index.js']) fs.copyFileSync(path.join(ROOT, file), path.join(dir, file));
  return dir;
}

/**
 * Loads the copy's addon in a child (as `machine`, if given); returns
 * { code, message, tried } or { loaded: place }.
 */
function loadIn(dir, env = {}, machine = null) {
  const script = 'const machine = process.env.TEST_MACHINE ? JSON.parse(process.env.TEST_MACHINE) : undefined;' +
    "try { const { place } = require('./lib/addon').load(machine); console.log(JSON.stringify({ loaded: place })); }" +
    ' catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message, tried: e.tried })); }';
  const clean = { ...process.env, ...env, TEST_MACHINE: machine ? JSON.stringify(machine) : '' };
  if (!(addon.ENV_PATH in env)) delete clean[addon.ENV_PATH];
  const result = spawnSync(process.execPath, ['-e', script], { cwd: dir, env: clean, encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout);
}

/** Asserts `message` contains every one of `parts` and none of `absent`. */
function assertMentions(message, parts, absent = []) {
  for (const part of parts) assert.ok(message.includes(part), `"${part}" in:\n${message}`);
  for (const part of absent) assert.ok(!message.includes(part), `no "${part}" in:\n${message}`);
}

const noTarget = !here && `no release target for ${platform.current().name}`;
const INSTALL_PREBUILT = 'install the prebuilt package';
const BUILD = 'build from source: npm rebuild netbios-session';

test('loader: nothing loads in an installed package: one error with the triple, each place and why, and both ways out', { skip: noTarget }, (t) => {
  const dir = bareCopy(t);
  const error = loadIn(dir);
  assert.equal(error.code, 'ERR_NETBIOS_ADDON');
  assert.deepEqual(error.tried, [
    { place: `the source build ${path.join(dir, 'netbios-session.node')}`, why: 'not found' },
    { place: `the prebuilt package ${here.package}`, why: 'not installed' },
  ]);
  assertMentions(error.message, [`${platform.current().name} (${here.triple})`, `npm install ${here.package}@${manifest.version}`,
    BUILD, `Rust ${addon.rustVersion()} or later`, 'C compiler', 'npm install-scripts approve netbios-session']);
  assert.match(addon.rustVersion(), /^1\.\d+/);
});

test('loader: a development clone never falls back to a published prebuilt package', { skip: noTarget }, (t) => {
  const dir = bareCopy(t, { clone: true });
  const error = loadIn(dir);
  assert.deepEqual(error.tried[1], {
    place: `the prebuilt package ${here.package}`,
    why: 'not used by a development clone (npm run build makes its source build)',
  });
  assertMentions(error.message, [BUILD], [INSTALL_PREBUILT]);
});

test('loader: a prebuilt package that is installed but does not load is not offered again', { skip: noTarget }, (t) => {
  const dir = bareCopy(t);
  const prebuilt = path.join(dir, '..', here.package);
  fs.mkdirSync(prebuilt);
  fs.writeFileSync(path.join(prebuilt, 'package.json'), JSON.stringify({ name: here.package, version: manifest.version, main: here.file }));
  fs.writeFileSync(path.join(prebuilt, here.file), 'not a shared object');
  const error = loadIn(dir);
  assert.match(error.tried[1].why, /invalid ELF header|too short|not a valid/);
  assertMentions(error.message, [BUILD], [INSTALL_PREBUILT]);
});

test('loader: a platform with no release target is told so, and offered only the source build', (t) => {
  const dir = bareCopy(t);
  const error = loadIn(dir, {}, { os: 'freebsd', cpu: 'x64', libc: null, name: 'freebsd-x64' });
  assert.equal(error.code, 'ERR_NETBIOS_ADDON');
  assert.equal(error.tried.length, 1, 'only the source build');
  assertMentions(error.message, ['on freebsd-x64 (no prebuilt package is made for this platform)', BUILD], [INSTALL_PREBUILT]);
});

test('loader: a path named in NETBIOS_SESSION_ADDON is the only place tried, and the way out is to fix or unset it', (t) => {
  const dir = bareCopy(t);
  const built = path.join(ROOT, 'netbios-session.node');
  assert.deepEqual(loadIn(dir, { [addon.ENV_PATH]: built }), { loaded: `${addon.ENV_PATH}=${built}` });

  const missing = path.join(dir, 'elsewhere.node');
  const error = loadIn(dir, { [addon.ENV_PATH]: missing });
  assert.deepEqual(error.tried, [{ place: `${addon.ENV_PATH}=${missing}`, why: 'not found' }]);
  assertMentions(error.message, [`point ${addon.ENV_PATH} at a loadable addon, or unset it`], [INSTALL_PREBUILT, BUILD]);

  // A file that is not an addon: the dynamic loader's own words.
  const bogus = path.join(dir, 'bogus.node');
  fs.writeFileSync(bogus, 'not a shared object');
  const [{ why }] = loadIn(dir, { [addon.ENV_PATH]: bogus }).tried;
  assert.match(why, /bogus\.node|invalid ELF header|too short/);
});

test('loader: a source build in the package folder comes before the prebuilt package', (t) => {
  const dir = bareCopy(t);
  fs.copyFileSync(path.join(ROOT, 'netbios-session.node'), path.join(dir, 'netbios-session.node'));
  assert.deepEqual(loadIn(dir), { loaded: `the source build ${path.join(dir, 'netbios-session.node')}` });
});

test('pack-platform makes an installable package: os, cpu, libc, the addon, the root version', { skip: noTarget }, (t) => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'netbios-session-pack-'));
  t.after(() => fs.rmSync(out, { recursive: true, force: true }));
  const lines = execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'pack-platform.js'),
    '--binary', path.join(ROOT, 'netbios-session.node'), '--out', out], { encoding: 'utf8' }).trim().split('\n');
  const tarball = lines.pop();
  assert.equal(tarball, path.join(out, `${here.package}-${manifest.version}.tgz`));
  assert.ok(fs.statSync(tarball).size > 0);
  const folder = path.join(out, here.package);
  const packed = JSON.parse(fs.readFileSync(path.join(folder, 'package.json'), 'utf8'));
  assert.deepEqual(
    { name: packed.name, version: packed.version, os: packed.os, cpu: packed.cpu, libc: packed.libc, main: packed.main, files: packed.files },
    { name: here.package, version: manifest.version, os: [here.os], cpu: [here.cpu], libc: here.libc ? [here.libc] : undefined,
      main: here.file, files: [here.file] });
  assert.ok(fs.readFileSync(path.join(folder, packed.main)).equals(fs.readFileSync(path.join(ROOT, 'netbios-session.node'))));

  const refused = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'pack-platform.js'),
    '--target', 'riscv64gc-unknown-linux-gnu', '--out', out], { encoding: 'utf8' });
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /'riscv64gc-unknown-linux-gnu' is not a release target; the targets are: x86_64-unknown-linux-gnu, /);
});

test('check-release: the tag must name the version; a dry run may have none', () => {
  const check = (...args) => spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'check-release.js'), ...args],
    { encoding: 'utf8', env: { ...process.env, GITHUB_REF_TYPE: '', GITHUB_REF_NAME: '' } });
  const good = check('--tag', `v${manifest.version}`);
  assert.equal(good.status, 0, good.stdout);
  assert.match(good.stdout, new RegExp(`release ${manifest.version}: tag v${manifest.version}, 8 platform packages`));
  const wrong = check('--tag', 'v99.0.0');
  assert.equal(wrong.status, 1);
  assert.match(wrong.stdout, new RegExp(`::error::the tag v99.0.0 does not match package.json's version ${manifest.version}`));
  assert.equal(check().status, 1, 'a release needs a tag');
  assert.equal(check('--dry-run').status, 0);
});
