'use strict';
// Finds and loads the native addon: a path named in the environment, a build
// in the package folder, or (in an installed package) the prebuilt package
// for this platform. When none loads, one error says what was tried, why
// each failed, and the ways out that can help.

const fs = require('fs');
const path = require('path');
const platform = require('./platform');
const { codes, netbiosError } = require('./errors');

// Set to a .node file to load exactly that one (and nothing else).
const ENV_PATH = 'NETBIOS_SESSION_ADDON';
const ROOT = path.join(__dirname, '..');
// Where scripts/build.js puts a build from source.
const BUILT = path.join(ROOT, `${platform.PACKAGE}.node`);
const NOT_INSTALLED = 'not installed';

/**
 * Whether this copy of the package was installed as a dependency (its
 * folder is inside a node_modules), rather than being a clone someone
 * develops in, which uses its own build and never a published one.
 */
function installedAsDependency(root = ROOT) {
  return path.resolve(root).split(path.sep).includes('node_modules');
}

/** Why a require() of a native file failed, in a few words. */
function reason(error) {
  if (error.code === 'MODULE_NOT_FOUND' || error.code === 'ENOENT') return 'not found';
  return error.message.split('\n')[0];
}

/** Loads the prebuilt package of a release target; throws 'not installed' or the load error. */
function loadPrebuilt(target) {
  let file;
  try {
    file = require.resolve(`${target.package}/${target.file}`);
  } catch {
    throw new Error(NOT_INSTALLED);
  }
  return require(file);
}

/** The places to try, in order: [{ place, load() }], load() throwing when it fails. */
function candidates(machine) {
  const named = process.env[ENV_PATH];
  if (named) {
    return [{ place: `${ENV_PATH}=${named}`, load: () => require(path.resolve(named)) }];
  }
  const list = [{ place: `the source build ${BUILT}`, load: () => require(BUILT) }];
  const target = platform.targetFor(machine);
  if (target) {
    const place = `the prebuilt package ${target.package}`;
    const load = installedAsDependency()
      ? () => loadPrebuilt(target)
      : () => {
        throw new Error('not used by a development clone (npm run build makes its source build)');
      };
    list.push({ place, load });
  }
  return list;
}

/** The Rust version the crate asks for (Cargo.toml's rust-version), or null if it cannot be read. */
function rustVersion() {
  try {
    const match = /^rust-version\s*=\s*"([^"]+)"/m.exec(fs.readFileSync(path.join(ROOT, 'Cargo.toml'), 'utf8'));
    return match ? match[1] : null;
  } catch {
    return null;
  }
}

function notLoaded(machine, tried) {
  const target = platform.targetFor(machine);
  const { version } = require('../package.json');
  const lines = [
    `netbios-session: cannot load its native addon on ${machine.name}` +
      (target ? ` (${target.triple}).` : ' (no prebuilt package is made for this platform).'),
    'Tried:',
    ...tried.map(({ place, why }) => `  - ${place}: ${why}`),
    'Ways out:',
  ];
  if (process.env[ENV_PATH]) {
    lines.push(`  - point ${ENV_PATH} at a loadable addon, or unset it to use the package's own.`);
    return netbiosError(codes.ADDON, lines.join('\n'), { tried });
  }
  const prebuilt = tried.find(({ place }) => target && place.endsWith(target.package));
  if (prebuilt && prebuilt.why === NOT_INSTALLED) {
    lines.push(
      `  - install the prebuilt package: npm install ${target.package}@${version} ` +
        '(it is an optional dependency: installs that omit optional dependencies, or a lockfile made on another platform, leave it out);'
    );
  }
  const rust = rustVersion();
  lines.push(
    `  - build from source: npm rebuild netbios-session, with Rust ${rust ? `${rust} or later` : '(the version in Cargo.toml)'} ` +
      '(https://rustup.rs) and a C compiler (cc) on the PATH. npm 11 and pnpm 10 skip install scripts until allowed: ' +
      'first `npm install-scripts approve netbios-session` or `pnpm approve-builds`.'
  );
  return netbiosError(codes.ADDON, lines.join('\n'), { tried });
}

/**
 * Loads the addon, or throws ERR_NETBIOS_ADDON listing every place tried.
 * Returns { binding, place }.
 */
function load(machine = platform.current()) {
  const tried = [];
  for (const candidate of candidates(machine)) {
    try {
      return { binding: candidate.load(), place: candidate.place };
    } catch (error) {
      tried.push({ place: candidate.place, why: reason(error) });
    }
  }
  throw notLoaded(machine, tried);
}

module.exports = { load, loadPrebuilt, reason, rustVersion, installedAsDependency, ENV_PATH, BUILT };
