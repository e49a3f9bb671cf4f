#!/usr/bin/env node
'use strict';
// Runs the JavaScript suite with node's test runner on the Node that runs
// this script. The files are listed here because Node 18 and 20 take a
// folder where Node 22 and later take only files or globs.
//
//   node scripts/test.js [folder under __test__ ...]   (default: the suite and interop/)

const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const TESTS = path.join(__dirname, '..', '__test__');
const folders = process.argv.slice(2);

const files = [];
for (const folder of folders.length ? folders : ['.', 'interop']) {
  const dir = path.join(TESTS, folder);
  for (const name of fs.readdirSync(dir).sort()) {
    if (name.endsWith('.test.js')) files.push(path.join(dir, name));
  }
}
if (files.length === 0) {
  console.error(`scripts/test.js: no *.test.js files in ${folders.join(', ')}`);
  process.exit(1);
}

console.log(`# node ${process.version}, ${files.length} test files`);
const result = spawnSync(process.execPath, ['--test', ...files], { stdio: 'inherit' });
process.exit(result.status === null ? 1 : result.status);
