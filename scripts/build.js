#!/usr/bin/env node
'use strict';
// Builds the native addon from source with cargo. As a command (`npm run
// build`, `--debug` for an unoptimised build) it puts the addon where
// lib/addon.js looks for a source build; scripts/install.js and
// scripts/pack-platform.js call build() for their own builds.

const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const ROOT = path.join(__dirname, '..');
const CRATE = 'netbios-session';
const LIBRARY = 'netbios_session';

class BuildError extends Error {}

/**
 * Runs cargo build for the addon and returns the path of the library it made.
 * options: { debug, triple (cross target), targetDir (CARGO_TARGET_DIR),
 * locked (use Cargo.lock as shipped), quiet (cargo's progress hidden) }.
 * Throws BuildError saying what failed.
 */
function build({ debug = false, triple, targetDir, locked = false, quiet = false } = {}) {
  const args = ['build', '--package', CRATE, '--lib', '--message-format=json-render-diagnostics'];
  if (!debug) args.push('--release');
  if (triple) args.push('--target', triple);
  if (locked) args.push('--locked');
  if (quiet) args.push('--quiet');
  const env = { ...process.env };
  if (targetDir) env.CARGO_TARGET_DIR = targetDir;

  const cargo = process.env.CARGO || 'cargo';
  const result = spawnSync(cargo, args, {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error) {
    throw new BuildError(result.error.code === 'ENOENT'
      ? `cannot run ${cargo}: it is not on the PATH (Rust is installed with https://rustup.rs)`
      : `cannot run ${cargo}: ${result.error.message}`);
  }
  if (result.status !== 0) {
    throw new BuildError(`'${cargo} ${args.join(' ')}' failed with status ${result.status} (its errors are above)`);
  }

  // cargo reports each artifact as a JSON line; take the cdylib it built.
  let artifact = null;
  for (const line of result.stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    const message = JSON.parse(line);
    if (message.reason === 'compiler-artifact' && message.target.name === LIBRARY) {
      artifact = message.filenames.find((file) => /\.(so|dylib|dll)$/.test(file)) || artifact;
    }
  }
  if (!artifact) throw new BuildError(`${cargo} finished but reported no ${LIBRARY} library`);
  return artifact;
}

/** Copies a built library to `destination` through a temporary name, so no process sees half a file. */
function install(artifact, destination) {
  const temporary = `${destination}.${process.pid}.tmp`;
  fs.copyFileSync(artifact, temporary);
  fs.renameSync(temporary, destination);
}

module.exports = { build, install, BuildError, ROOT };

if (require.main === module) {
  const { BUILT } = require('../lib/addon');
  const debug = process.argv.includes('--debug');
  try {
    install(build({ debug }), BUILT);
  } catch (error) {
    if (!(error instanceof BuildError)) throw error;
    console.error(`netbios-session: ${error.message}`);
    process.exit(1);
  }
  console.log(`netbios-session: built ${path.relative(ROOT, BUILT)} (${debug ? 'debug' : 'release'})`);
}
