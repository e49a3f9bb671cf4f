#!/usr/bin/env node
'use strict';
// Runs `npm test` on every Node major that package.json's `engines` names,
// each on the newest release of that major from the npm registry's node
// binaries (node-<os>-<arch>), cached under the system's temporary folder.
// npm itself keeps running on this Node; the test scripts get the other.
//
//   node scripts/test-node-versions.js [--except-current] [MAJOR ...]

const { execFileSync, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const ROOT = path.join(__dirname, '..');
const { engines } = require('../package.json');

const args = process.argv.slice(2);
const exceptCurrent = args.includes('--except-current');
const asked = args.filter((arg) => /^\d+$/.test(arg)).map(Number);
const supported = engines.node.split('||').map((range) => Number(range.trim()));
if (supported.some(Number.isNaN)) throw new Error(`engines.node '${engines.node}' is not a list of majors`);
const current = Number(process.versions.node.split('.')[0]);
const majors = (asked.length ? asked : supported).filter((major) => !(exceptCurrent && major === current));

const npmCli = require('./npm-cli').npmCli();

/** The folder holding a `node` of this major: this one's, or one installed from the registry. */
function nodeFolder(major) {
  if (major === current) return path.dirname(process.execPath);
  const binaries = `node-${process.platform === 'win32' ? 'win' : process.platform}-${process.arch}`;
  const prefix = path.join(os.tmpdir(), 'netbios-session-node', String(major));
  const bin = path.join(prefix, 'node_modules', binaries, 'bin');
  if (!fs.existsSync(path.join(bin, 'node'))) {
    console.log(`# installing ${binaries}@${major} from the npm registry`);
    execFileSync(process.execPath, [npmCli, 'install', '--prefix', prefix, '--no-save', '--no-package-lock',
      '--no-audit', '--no-fund', '--loglevel=error', `${binaries}@${major}`], { stdio: 'inherit' });
  }
  return bin;
}

const results = [];
for (const major of majors) {
  const folder = nodeFolder(major);
  const version = execFileSync(path.join(folder, 'node'), ['--version'], { encoding: 'utf8' }).trim();
  console.log(`\n# npm test on Node ${version}`);
  const started = Date.now();
  const run = spawnSync(process.execPath, [npmCli, 'test'], {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...process.env, PATH: `${folder}${path.delimiter}${process.env.PATH}` },
  });
  results.push({ version, ok: run.status === 0, seconds: Math.round((Date.now() - started) / 1000) });
}

console.log('\n# Node versions');
for (const { version, ok, seconds } of results) console.log(`# ${version}: ${ok ? 'passed' : 'FAILED'} in ${seconds} s`);
process.exitCode = results.every((result) => result.ok) ? 0 : 1;
