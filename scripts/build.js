#!/usr/bin/env node
'use strict';
// Builds the native addon from source with cargo and copies it to the file
// lib/native.js loads. Runs as the package's install script; nothing is
// downloaded prebuilt. `--debug` builds without optimisation (faster to build).

const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const target = path.join(root, 'netbios-session.node');
const debug = process.argv.includes('--debug');

const args = ['build', '--package', 'netbios-session', '--lib', '--message-format=json-render-diagnostics'];
if (!debug) args.push('--release');

const cargo = process.env.CARGO || 'cargo';
const result = spawnSync(cargo, args, {
  cwd: root,
  stdio: ['ignore', 'pipe', 'inherit'],
  encoding: 'utf8',
  maxBuffer: 64 * 1024 * 1024,
});

if (result.error) {
  const hint = result.error.code === 'ENOENT'
    ? 'netbios-session builds its native addon from source and needs Rust (cargo) on the PATH: see https://rustup.rs'
    : String(result.error);
  console.error(`netbios-session: cannot run ${cargo}: ${hint}`);
  process.exit(1);
}
if (result.status !== 0) {
  console.error(`netbios-session: '${cargo} ${args.join(' ')}' failed with status ${result.status}`);
  process.exit(result.status || 1);
}

// cargo reports each artifact as a JSON line; take the cdylib it built.
let artifact = null;
for (const line of result.stdout.split('\n')) {
  if (!line.startsWith('{')) continue;
  const message = JSON.parse(line);
  if (message.reason === 'compiler-artifact' && message.target.name === 'netbios_session') {
    artifact = message.filenames.find((file) => /\.(so|dylib|dll)$/.test(file)) || artifact;
  }
}
if (!artifact) {
  console.error('netbios-session: cargo finished but reported no netbios_session library');
  process.exit(1);
}

// Copy through a temporary name so a running process never sees half a file.
const temporary = `${target}.${process.pid}.tmp`;
fs.copyFileSync(artifact, temporary);
fs.renameSync(temporary, target);
console.log(`netbios-session: built ${path.relative(root, target)} (${debug ? 'debug' : 'release'})`);
