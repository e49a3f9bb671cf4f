'use strict';
// Fresh applications for the install tests: an empty project that installs
// netbios-session from the local registry with npm, pnpm or yarn, under a
// PATH with or without Rust's cargo and a C compiler, and what it got.

const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const PACKAGE = 'netbios-session';

/** A folder of links to just `node` and `sh`: a PATH where cargo and cc cannot be found. */
function toollessBin(dir) {
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  fs.symlinkSync('/bin/sh', path.join(bin, 'sh'));
  return bin;
}

/** Where `command` would be found on `PATH`, or null. */
function which(command, PATH) {
  for (const folder of PATH.split(path.delimiter)) {
    const file = path.join(folder, command);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {
      // Not in this folder.
    }
  }
  return null;
}

/**
 * A new app folder under `root` whose managers use `registry` and keep
 * their caches, home and temporary files inside it. `rust`: whether cargo
 * and cc stay on the PATH; `manifest`: more fields for the app's package.json.
 */
function createApp({ root, name, registry, rust, manifest = {} }) {
  const dir = path.join(root, name);
  const app = path.join(dir, 'app');
  const home = path.join(dir, 'home');
  const tmp = path.join(dir, 'tmp');
  for (const folder of [app, home, tmp]) fs.mkdirSync(folder, { recursive: true });
  fs.writeFileSync(path.join(app, 'package.json'),
    `${JSON.stringify({ name: `app-${name}`, version: '1.0.0', private: true, ...manifest }, null, 2)}\n`);
  fs.writeFileSync(path.join(app, '.npmrc'), `registry=${registry}\n`);
  fs.copyFileSync(path.join(__dirname, 'fixtures', 'exchange.js'), path.join(app, 'exchange.js'));

  // A clean environment: nothing from the npm that runs these tests.
  const env = { HOME: home, TMPDIR: tmp, LANG: 'C.UTF-8', npm_config_update_notifier: 'false' };
  if (rust) {
    env.PATH = process.env.PATH;
    env.CARGO_HOME = process.env.CARGO_HOME || path.join(os.homedir(), '.cargo');
    env.RUSTUP_HOME = process.env.RUSTUP_HOME || path.join(os.homedir(), '.rustup');
  } else {
    env.PATH = toollessBin(dir);
  }
  return { dir, app, home, tmp, env, registry };
}

/** The command line that adds netbios-session with `manager`, plus `extra` arguments. */
function addCommand(tools, manager, app, extra = []) {
  switch (manager) {
    case 'npm':
      return [tools.npm, 'install', PACKAGE, '--no-audit', '--no-fund', ...extra];
    case 'pnpm':
      return [tools.pnpm, 'add', PACKAGE, '--store-dir', path.join(app.dir, 'pnpm-store'), ...extra];
    case 'yarn':
      return [tools.yarn, 'add', PACKAGE, '--registry', app.registry, '--non-interactive',
        '--cache-folder', path.join(app.dir, 'yarn-cache'), ...extra];
    default:
      throw new Error(`unknown package manager ${manager}`);
  }
}

/** Runs a node script in the app with its environment; returns { status, output, seconds }. */
function run(app, args, timeout = 600_000) {
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, args, {
    cwd: app.app, env: app.env, encoding: 'utf8', timeout, maxBuffer: 16 * 1024 * 1024,
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { status: result.status, output: `${result.stdout}${result.stderr}`, seconds, error: result.error };
}

/** Total size in bytes of the files under `dir` (links not followed). */
function sizeOf(dir) {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) total += sizeOf(file);
    else if (entry.isFile()) total += fs.statSync(file).size;
  }
  return total;
}

/** The installed netbios-session folder (real path: pnpm links it) and, if present, the platform package's. */
function installed(app, platformPackage) {
  const root = fs.realpathSync(path.join(app.app, 'node_modules', PACKAGE));
  let prebuilt = null;
  try {
    prebuilt = path.dirname(require.resolve(`${platformPackage}/package.json`, { paths: [root] }));
  } catch {
    // Not installed.
  }
  return { root, prebuilt };
}

module.exports = { createApp, addCommand, run, sizeOf, installed, which, PACKAGE };
