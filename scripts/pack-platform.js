#!/usr/bin/env node
'use strict';
// Release tooling: makes the prebuilt addon package of one release target
// (package.json with os/cpu/libc, a README, the license and the .node file)
// and packs it with `npm pack`. The last line printed is the tarball's path.
//
//   node scripts/pack-platform.js [--target TRIPLE] [--binary FILE] [--out DIR]
//
// --target  a Rust triple from lib/platform.js (default: this machine's)
// --binary  an addon already built for that target (default: cargo builds it)
// --out     where the package folder and tarball go (default: dist/)

const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { parseArgs } = require('util');
const { build, BuildError, ROOT } = require('./build');
const { npmCli } = require('./npm-cli');
const platform = require('../lib/platform');

function fail(message) {
  console.error(`pack-platform: ${message}`);
  process.exit(1);
}

const { values } = parseArgs({
  options: {
    target: { type: 'string' },
    binary: { type: 'string' },
    out: { type: 'string', default: path.join(ROOT, 'dist') },
  },
});

const here = platform.targetFor(platform.current());
const triple = values.target || (here && here.triple);
const target = platform.TARGETS.find((candidate) => candidate.triple === triple);
if (!target) {
  fail(`${triple ? `'${triple}' is not a release target` : 'this machine is not a release target'}; ` +
    `the targets are: ${platform.TARGETS.map((candidate) => candidate.triple).join(', ')}`);
}

let binary = values.binary;
if (!binary) {
  try {
    // A cross build names its target; a native one shares target/release with npm run build.
    binary = build({ triple: here && here.triple === triple ? undefined : triple, locked: true });
  } catch (error) {
    if (error instanceof BuildError) fail(error.message);
    throw error;
  }
}
if (!fs.existsSync(binary)) fail(`no addon at ${binary}`);

const root = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const folder = path.join(path.resolve(values.out), target.package);
fs.rmSync(folder, { recursive: true, force: true });
fs.mkdirSync(folder, { recursive: true });

const manifest = {
  name: target.package,
  version: root.version,
  description: `The prebuilt native addon of ${root.name} for ${target.triple}`,
  license: root.license,
  main: target.file,
  files: [target.file],
  os: [target.os],
  cpu: [target.cpu],
  ...(target.libc ? { libc: [target.libc] } : {}),
  engines: root.engines,
};
if (root.repository) manifest.repository = root.repository;
fs.writeFileSync(path.join(folder, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
fs.writeFileSync(path.join(folder, 'README.md'),
  `# ${target.package}\n\nThe native addon of [\`${root.name}\`](https://www.npmjs.com/package/${root.name}) ` +
  `${root.version}, prebuilt for \`${target.triple}\`. Install \`${root.name}\`, not this package: ` +
  'npm, pnpm and yarn pick the package for your platform from its optional dependencies.\n');
fs.copyFileSync(path.join(ROOT, 'LICENSE'), path.join(folder, 'LICENSE'));
fs.copyFileSync(binary, path.join(folder, target.file));

const packed = spawnSync(process.execPath, [npmCli(), 'pack', '--json', '--pack-destination', path.resolve(values.out)], {
  cwd: folder,
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'inherit'],
});
if (packed.status !== 0) fail(`npm pack failed with status ${packed.status}`);
const [{ filename, size, unpackedSize }] = JSON.parse(packed.stdout);
console.log(`${target.package}@${root.version}: ${size} bytes packed, ${unpackedSize} unpacked`);
console.log(path.join(path.resolve(values.out), filename));
