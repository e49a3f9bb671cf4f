'use strict';
// Which platform this is, and which prebuilt addon package serves it: the one
// list of release targets that the loader, the install script, the packing
// script and the tests all read.

const fs = require('fs');

const PACKAGE = 'netbios-session';

// Each release target: the Rust triple it is built for, the platform
// package's name suffix, and the values npm, pnpm and yarn match against
// process.platform, process.arch and the C library.
const TARGETS = [
  { triple: 'x86_64-unknown-linux-gnu', suffix: 'linux-x64-gnu', os: 'linux', cpu: 'x64', libc: 'glibc' },
  { triple: 'x86_64-unknown-linux-musl', suffix: 'linux-x64-musl', os: 'linux', cpu: 'x64', libc: 'musl' },
  { triple: 'aarch64-unknown-linux-gnu', suffix: 'linux-arm64-gnu', os: 'linux', cpu: 'arm64', libc: 'glibc' },
  { triple: 'aarch64-unknown-linux-musl', suffix: 'linux-arm64-musl', os: 'linux', cpu: 'arm64', libc: 'musl' },
  { triple: 'x86_64-apple-darwin', suffix: 'darwin-x64', os: 'darwin', cpu: 'x64', libc: null },
  { triple: 'aarch64-apple-darwin', suffix: 'darwin-arm64', os: 'darwin', cpu: 'arm64', libc: null },
  { triple: 'x86_64-pc-windows-msvc', suffix: 'win32-x64-msvc', os: 'win32', cpu: 'x64', libc: null },
  { triple: 'aarch64-pc-windows-msvc', suffix: 'win32-arm64-msvc', os: 'win32', cpu: 'arm64', libc: null },
].map((target) => ({
  ...target,
  // The platform package, and the addon file inside it.
  package: `${PACKAGE}-${target.suffix}`,
  file: `${PACKAGE}.${target.suffix}.node`,
}));

/**
 * The C library of this Linux system, as npm's `libc` field names it
 * ('glibc' or 'musl'), or null elsewhere or when it cannot be told.
 */
function detectLibc() {
  if (process.platform !== 'linux') return null;
  // ldd is a shell script naming GNU libc on glibc systems, and musl's own
  // loader (a binary that contains the word musl) on musl systems.
  try {
    const ldd = fs.readFileSync('/usr/bin/ldd', 'latin1');
    if (ldd.includes('musl')) return 'musl';
    if (ldd.includes('GLIBC') || ldd.includes('GNU C Library')) return 'glibc';
  } catch {
    // No ldd (a minimal container): ask Node what it runs on.
  }
  const report = nodeReport();
  if (report && report.header && report.header.glibcVersionRuntime) return 'glibc';
  if (report && Array.isArray(report.sharedObjects) &&
      report.sharedObjects.some((file) => /(?:ld|libc)[.-]musl/.test(file))) {
    return 'musl';
  }
  return null;
}

/**
 * Node's diagnostic report, without its network section: gathering that
 * can take seconds (it resolves every interface's addresses).
 */
function nodeReport() {
  const { report } = process;
  if (!report || typeof report.getReport !== 'function') return null;
  const excluded = report.excludeNetwork;
  report.excludeNetwork = true;
  try {
    return report.getReport();
  } finally {
    report.excludeNetwork = excluded;
  }
}

let machine = null;

/** This machine: { os, cpu, libc, name } where name reads like linux-x64-glibc (read once). */
function current() {
  if (machine === null) {
    const libc = detectLibc();
    const os = process.platform;
    const cpu = process.arch;
    machine = Object.freeze({ os, cpu, libc, name: [os, cpu, libc].filter(Boolean).join('-') });
  }
  return machine;
}

/** The release target serving a machine from current(), or undefined. */
function targetFor(machine) {
  return TARGETS.find((target) =>
    target.os === machine.os && target.cpu === machine.cpu && target.libc === machine.libc);
}

module.exports = { PACKAGE, TARGETS, current, targetFor };
