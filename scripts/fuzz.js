#!/usr/bin/env node
'use strict';
// `npm run fuzz`: runs each cargo-fuzz target of the Rust core
// (crates/netbios-session-core/fuzz) for FUZZ_SECONDS (default 60) and prints
// executions, corpus size and findings per target. A crash, hang or failed
// property leaves its input in fuzz/artifacts/<target>/; this script copies it
// to tests/regressions/<target>/, where `cargo test` replays it from then on.
//
// Environment:
//   FUZZ_SECONDS    seconds per target (default 60)
//   FUZZ_TARGETS    comma-separated subset of: frame,name,connection,session,call_plan
//   FUZZ_SANITIZER  none (default, stable Rust) or address (needs nightly
//                   flags: run with RUSTC_BOOTSTRAP=1 on a stable toolchain)
//
// Needs cargo-fuzz: `cargo install cargo-fuzz`. libFuzzer itself is built
// from source by the libfuzzer-sys crate (a C++ compiler is needed).

const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const crate = path.join(__dirname, '..', 'crates', 'netbios-session-core');
const fuzzDir = path.join(crate, 'fuzz');
const ALL = ['frame', 'name', 'connection', 'session', 'call_plan'];

const seconds = Number.parseInt(process.env.FUZZ_SECONDS || '60', 10);
if (!Number.isInteger(seconds) || seconds < 1) {
  console.error(`fuzz: FUZZ_SECONDS must be a whole number of seconds, got ${process.env.FUZZ_SECONDS}`);
  process.exit(2);
}
const targets = (process.env.FUZZ_TARGETS || ALL.join(',')).split(',').filter(Boolean);
for (const target of targets) {
  if (!ALL.includes(target)) {
    console.error(`fuzz: unknown target ${target}; expected some of ${ALL.join(', ')}`);
    process.exit(2);
  }
}
const sanitizer = process.env.FUZZ_SANITIZER || 'none';

const probe = spawnSync('cargo', ['fuzz', '--version'], { encoding: 'utf8' });
if (probe.status !== 0) {
  console.error('fuzz: cargo-fuzz is not installed. Install it with `cargo install cargo-fuzz` and run again.');
  console.error('      (Without it, `cargo test -p netbios-session-core --test fuzz_properties` runs the same');
  console.error('      properties on pseudo-random inputs; FUZZ_CASES sets how many.)');
  process.exit(2);
}

const baseArgs = ['fuzz'];
const env = { ...process.env };
// The fuzz crate is its own workspace; keep its build out of the package's target/.
delete env.CARGO_TARGET_DIR;

function cargo(args, options = {}) {
  return spawnSync('cargo', [...baseArgs, ...args], {
    cwd: crate,
    env,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    ...options,
  });
}

console.log(`fuzz: building ${targets.join(', ')} (sanitizer ${sanitizer})`);
const build = cargo(['build', '--sanitizer', sanitizer], { stdio: 'inherit' });
if (build.status !== 0) {
  console.error('fuzz: cargo fuzz build failed');
  process.exit(1);
}

function listFiles(dir) {
  try {
    return fs.readdirSync(dir).filter((name) => fs.statSync(path.join(dir, name)).isFile());
  } catch {
    return [];
  }
}

const results = [];
for (const target of targets) {
  const artifacts = path.join(fuzzDir, 'artifacts', target);
  const before = new Set(listFiles(artifacts));
  console.log(`\nfuzz: ${target} for ${seconds} s`);
  const run = cargo(
    [
      'run',
      '--sanitizer',
      sanitizer,
      target,
      '--',
      `-max_total_time=${seconds}`,
      '-timeout=10', // one input running 10 s is a hang: a finding
      '-rss_limit_mb=2048',
      '-print_final_stats=1',
    ],
    { stdio: ['ignore', 'inherit', 'pipe'] }
  );
  const log = run.stderr || '';
  const tail = log.split('\n').slice(-40).join('\n');
  const executions = Number((/stat::number_of_executed_units:\s*(\d+)/.exec(log) || /Done (\d+) runs/.exec(log) || [])[1] || 0);
  const corpus = listFiles(path.join(fuzzDir, 'corpus', target)).length;
  const found = listFiles(artifacts).filter((name) => !before.has(name));
  const saved = [];
  for (const name of found) {
    const regressions = path.join(crate, 'tests', 'regressions', target);
    fs.mkdirSync(regressions, { recursive: true });
    fs.copyFileSync(path.join(artifacts, name), path.join(regressions, name));
    saved.push(path.relative(path.join(__dirname, '..'), path.join(regressions, name)));
  }
  if (run.status !== 0 && found.length === 0) {
    console.error(tail);
    console.error(`fuzz: ${target} exited with status ${run.status} and left no artifact`);
  } else if (found.length > 0) {
    console.error(tail);
  }
  results.push({ target, seconds, executions, corpus, findings: found.length, saved, status: run.status });
}

console.log('\nfuzz: summary');
console.log('target      seconds  executions  exec/s    corpus  findings');
for (const r of results) {
  console.log(
    `${r.target.padEnd(11)} ${String(r.seconds).padStart(7)}  ${String(r.executions).padStart(10)}  ${String(
      Math.round(r.executions / r.seconds)
    ).padStart(7)}  ${String(r.corpus).padStart(7)}  ${String(r.findings).padStart(8)}`
  );
  for (const file of r.saved) console.log(`  saved ${file}: \`cargo test -p netbios-session-core --test fuzz_properties\` replays it`);
}
const failed = results.some((r) => r.status !== 0 || r.findings > 0);
process.exit(failed ? 1 : 0);
