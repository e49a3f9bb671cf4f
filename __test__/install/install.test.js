'use strict';
// Installs the package as its users do: from a registry (verdaccio on
// loopback, tools.js), into fresh apps (apps.js), with npm, pnpm and yarn,
// on a PATH without cargo and cc. First with the platform package withheld
// (source build where Rust is present, the loader's error where it is not),
// then with it published (no build at all). Prints install time and size.

const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const platform = require('../../lib/platform');
const { ensureTools } = require('./tools');
const { startRegistry } = require('./registry');
const { createApp, addCommand, run, sizeOf, installed, which } = require('./apps');

const ROOT = path.join(__dirname, '..', '..');
const MB = 1024 * 1024;
const target = platform.targetFor(platform.current());
const { version } = require('../../package.json');
const rustVersion = require('../../lib/addon').rustVersion();

// What `npm install-scripts approve netbios-session` writes: npm 11 runs a
// dependency's install script only when the app allows it.
const ALLOW_SCRIPTS = { allowScripts: { 'netbios-session': true } };

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'netbios-session-install-'));
const figures = [];
let tools;
let registry;
let platformTarball;

function record(scenario, app, install, sizes) {
  const row = { scenario, seconds: Number(install.seconds.toFixed(1)), ...sizes };
  figures.push(row);
  return row;
}

/** Installs with `manager` into a new app and asserts the install exited 0. */
function installInto(name, manager, { rust, extra, manifest } = {}) {
  const app = createApp({ root: work, name, registry: registry.url, rust, manifest });
  if (!rust) {
    assert.equal(which('cargo', app.env.PATH), null, 'no cargo on the PATH');
    assert.equal(which('cc', app.env.PATH), null, 'no cc on the PATH');
  }
  const install = run(app, addCommand(tools, manager, app, extra));
  assert.equal(install.status, 0, `${manager} install failed:\n${install.output}`);
  return { app, install };
}

/** Runs fixtures/exchange.js in the app: messages both ways, NetBIOS and direct. */
function assertExchange(app) {
  const result = run(app, ['exchange.js'], 60_000);
  assert.equal(result.status, 0, result.output);
  const report = JSON.parse(result.output.trim().split('\n').pop());
  assert.equal(report.ok, true, result.output);
  assert.deepEqual(report.results.map((r) => r.messages), [6, 6]);
}

/** require('netbios-session') in the app fails with the loader's error; returns its message. */
function loaderError(app) {
  const result = run(app, ['-e', "try { require('netbios-session'); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); process.exit(3); }"]);
  assert.equal(result.status, 3, `require() did not fail:\n${result.output}`);
  const error = JSON.parse(result.output.trim().split('\n').pop());
  assert.equal(error.code, 'ERR_NETBIOS_ADDON');
  return error.message;
}

/** A packed manifest-only package for another target (see test.before). */
function standIn(other, dir) {
  const folder = path.join(dir, other.package);
  fs.mkdirSync(folder, { recursive: true });
  const manifest = { name: other.package, version, description: 'install-test stand-in: holds no addon',
    license: 'BSD-2-Clause', os: [other.os], cpu: [other.cpu], ...(other.libc ? { libc: [other.libc] } : {}) };
  fs.writeFileSync(path.join(folder, 'package.json'), JSON.stringify(manifest));
  const [{ filename }] = JSON.parse(execFileSync(process.execPath,
    [tools.npm, 'pack', '--json', '--pack-destination', dir, '--loglevel=error'], { cwd: folder, encoding: 'utf8' }));
  return path.join(dir, filename);
}

test.before(async () => {
  tools = ensureTools();
  registry = await startRegistry({ dir: path.join(work, 'registry'), tools });
  const dist = path.join(work, 'dist');
  fs.mkdirSync(dist);
  const packed = JSON.parse(execFileSync(process.execPath,
    [tools.npm, 'pack', '--json', '--pack-destination', dist, '--loglevel=error'], { cwd: ROOT, encoding: 'utf8' }));
  registry.publish(path.join(dist, packed[0].filename));
  const lines = execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'pack-platform.js'), '--out', dist],
    { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n');
  platformTarball = lines.pop();
  // This platform's package is published only after the withheld cases.
  // The other targets cannot be built here; a real release publishes them
  // all, and yarn 1 refuses a package whose optional dependencies are
  // missing, so the registry gets manifest-only stand-ins for them: same
  // name, version, os, cpu and libc, never installed on this machine.
  for (const other of platform.TARGETS.filter((candidate) => candidate !== target)) {
    registry.publish(standIn(other, path.join(dist, 'stand-ins')));
  }
});

test.after(() => {
  if (registry) registry.stop();
  if (figures.length) {
    console.log('install figures (seconds; sizes in bytes)');
    for (const row of figures) console.log(JSON.stringify(row));
  }
  if (!process.env.NETBIOS_INSTALL_KEEP) fs.rmSync(work, { recursive: true, force: true });
  else console.log(`kept ${work}`);
});

test('this machine is a release target', () => {
  assert.ok(target, `no release target for ${platform.current().name}`);
});

test('withheld prebuilt, Rust present: npm builds from source and leaves no target/ behind', (t) => {
  // npm 11 runs a dependency's install script only when the app allows it.
  const { app, install } = installInto('npm-source', 'npm', { rust: true, manifest: ALLOW_SCRIPTS });
  const { root, prebuilt } = installed(app, target.package);
  assert.equal(prebuilt, null, 'the platform package was withheld');
  assert.ok(fs.existsSync(path.join(root, 'netbios-session.node')), 'the source build is in the package folder');
  for (const folder of ['target', '.cargo-target']) {
    assert.ok(!fs.existsSync(path.join(root, folder)), `no cargo ${folder}/ left in the installed package`);
  }
  const size = sizeOf(root);
  assert.ok(size < 5 * MB, `installed package is ${size} bytes`);
  assertExchange(app);
  t.diagnostic(JSON.stringify(record('npm, no prebuilt, source build', app, install, { package: size })));
});

// yarn 1 cannot install a package one of whose optional dependencies is
// missing from the registry, so the withheld cases leave it out.
for (const manager of ['npm', 'pnpm']) {
  test(`withheld prebuilt, no Rust: ${manager} installs and require() explains both ways out`, (t) => {
    // npm runs the install script when allowed; it cannot find cargo and says so.
    const { app, install } = installInto(`${manager}-none`, manager, manager === 'npm'
      ? { rust: false, manifest: ALLOW_SCRIPTS, extra: ['--foreground-scripts'] }
      : { rust: false });
    if (manager !== 'pnpm') {
      assert.match(install.output, /cannot run cargo: it is not on the PATH/, 'the install script says why it could not build');
    }
    const message = loaderError(app);
    for (const part of [`on ${platform.current().name} (${target.triple})`, 'the source build', 'not found',
      `the prebuilt package ${target.package}: not installed`, `npm install ${target.package}@${version}`,
      'npm rebuild netbios-session', `Rust ${rustVersion} or later`, 'C compiler']) {
      assert.ok(message.includes(part), `the error names "${part}":\n${message}`);
    }
    if (manager === 'npm') console.log(`the loader's error:\n${message.replace(/^/gm, '#   ')}`);
    const { root } = installed(app, target.package);
    t.diagnostic(JSON.stringify(record(`${manager}, no prebuilt, no Rust`, app, install, { package: sizeOf(root) })));
  });
}

test('publish the platform package', () => {
  registry.publish(platformTarball);
});

for (const manager of ['npm', 'pnpm', 'yarn']) {
  test(`prebuilt, no Rust: plain ${manager} install works with no build`, (t) => {
    const { app, install } = installInto(`${manager}-prebuilt`, manager, { rust: false });
    const { root, prebuilt } = installed(app, target.package);
    assert.ok(prebuilt, `${target.package} was installed`);
    assert.ok(!fs.existsSync(path.join(root, 'netbios-session.node')), 'no source build was made');
    // The install script itself, run again as a package manager would: silent, builds nothing.
    const again = run(app, [path.join(root, 'scripts', 'install.js')]);
    assert.equal(again.status, 0, again.output);
    assert.equal(again.output, '', 'the install script prints nothing when the prebuilt addon loads');
    assert.ok(!fs.existsSync(path.join(root, 'netbios-session.node')));
    const sizes = { package: sizeOf(root), prebuilt: sizeOf(prebuilt) };
    assert.ok(sizes.package + sizes.prebuilt < 2 * MB, `installed size ${JSON.stringify(sizes)}`);
    assertExchange(app);
    t.diagnostic(JSON.stringify(record(`${manager}, prebuilt`, app, install, sizes)));
  });
}
