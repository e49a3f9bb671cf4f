'use strict';
// The outside programs the install tests drive: a local npm registry
// (verdaccio), pnpm and yarn, installed once from the npm registry into a
// cache folder, and npm itself (the one running these tests).

const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { npmCli } = require('../../scripts/npm-cli');

// Pinned so that a run is repeatable; pnpm 10 and yarn 1 are what the
// package promises to work with.
const VERSIONS = { verdaccio: '6.8.0', pnpm: '10.34.8', yarn: '1.22.22' };

/** Installs the tools if this machine does not have them yet; returns each one's entry script. */
function ensureTools() {
  const key = Object.entries(VERSIONS).map(([name, version]) => `${name}-${version}`).join('_');
  const prefix = path.join(os.tmpdir(), 'netbios-session-install-tools', key);
  const modules = path.join(prefix, 'node_modules');
  const entries = {
    npm: npmCli(),
    verdaccio: path.join(modules, 'verdaccio', 'bin', 'verdaccio'),
    pnpm: path.join(modules, 'pnpm', 'bin', 'pnpm.cjs'),
    yarn: path.join(modules, 'yarn', 'bin', 'yarn.js'),
  };
  if (!Object.values(entries).every((file) => fs.existsSync(file))) {
    fs.mkdirSync(prefix, { recursive: true });
    const specs = Object.entries(VERSIONS).map(([name, version]) => `${name}@${version}`);
    execFileSync(process.execPath, [entries.npm, 'install', '--prefix', prefix, '--no-save', '--no-audit',
      '--no-fund', '--no-package-lock', '--loglevel=error', ...specs], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  return entries;
}

module.exports = { ensureTools, VERSIONS };
