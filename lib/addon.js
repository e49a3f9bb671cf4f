'use strict';
// Finds and loads the native addon: a path named in the environment, a build
// in the package folder, or the prebuilt package for this platform. When
// none loads, one error says what was tried and the two ways out.

const fs = require('fs');
const path = require('path');
const platform = require('./platform');
const { codes, netbiosError } = require('./errors');

// Set to a .node file to load exactly that one (and nothing else).
const ENV_PATH = 'NETBIOS_SESSION_ADDON';
const ROOT = path.join(__dirname, '..');
// Where scripts/build.js puts a build from source.
const BUILT = path.join(ROOT, `${platform.PACKAGE}.node`);

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
    throw new Error('not installed');
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
  if (target) list.push({ place: `the prebuilt package ${target.package}`, load: () => loadPrebuilt(target) });
  return list;
}

/** The Rust version the crate asks for (Cargo.toml's rust-version), for the error text. */
function rustVersion() {
  try {
    const match = /^rust-version\s*=\s*"([^"]+)"/m.exec(fs.readFileSync(path.join(ROOT, 'Cargo.toml'), 'utf8'));
    if (match) return match[1];
  } catch {
    // Not shipped: say it without a number.
  }
  return 'the version in Cargo.toml';
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
  if (target) {
    lines.push(
      `  - install the prebuilt package: npm install ${target.package}@${version} ` +
        '(it is an optional dependency: installs that omit optional dependencies, or a lockfile made on another platform, leave it out);'
    );
  }
  lines.push(
    `  - build from source: npm rebuild netbios-session, with Rust ${rustVersion()} or later (https://rustup.rs) ` +
      'and a C compiler (cc) on the PATH. npm 11 and pnpm 10 skip install scripts until allowed: ' +
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

module.exports = { load, loadPrebuilt, reason, ENV_PATH, BUILT };
