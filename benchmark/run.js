'use strict';
// `npm run bench`: every figure measured side by side with its baseline in
// the same run, alternating ours / baseline (each first in turn), median
// of REPS repetitions, sender and receiver in separate processes
// (benchmark/peers.js).
// Prints a table of ratios (each row ends with the spread of both sides'
// repetitions: see `spread`), then the CPU time each process spent per
// message and per MiB (which side is the bottleneck, ours and baseline),
// writes benchmark/results.json and renders
// benchmark/throughput.svg. Options: --reps N, --only SUBSTRING, --render,
// --no-rust, --against DIR. Then the Rust crate's figures ("rust ..."),
// from cargo.
//
// `--against DIR` compares two versions instead: the baseline of every
// figure is then the other checkout's netbios-session (its own, built tree
// in DIR, its benchmark/peers.js), alternating with this one in the same
// run. It prints each figure's change and writes no files.

const { fork, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const argv = process.argv.slice(2);
const REPS = Number(argv[argv.indexOf('--reps') + 1]) || 3;
const ONLY = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : null;
const PEERS = path.join(__dirname, 'peers.js');
const AGAINST = againstDir();
const RUN_TIMEOUT_MS = 20000;

/** Ends the run over a bad command line (exit 2), saying why. */
function refuse(message) {
  console.error(`npm run bench: ${message}`);
  process.exit(2);
}

/** `--against DIR`, resolved; null without it. A missing DIR, or this checkout itself, is refused. */
function againstDir() {
  const at = argv.indexOf('--against');
  if (at < 0) return null;
  const given = argv[at + 1];
  if (given === undefined || given.startsWith('--')) {
    return refuse('--against needs the directory of another built checkout of netbios-session');
  }
  const dir = path.resolve(given);
  if (dir === path.resolve(__dirname, '..')) return refuse(`--against ${dir}: that is this checkout`);
  if (!fs.existsSync(path.join(dir, 'benchmark', 'peers.js'))) {
    return refuse(`--against ${dir}: no benchmark/peers.js there; give a built checkout of netbios-session`);
  }
  return dir;
}

const KiB = 1024;
const MiB = 1024 * 1024;
// /proc counts CPU time in USER_HZ ticks, 100 a second on every Linux.
const CLOCK_TICKS = 100;

/**
 * The CPU time (µs, all threads, user and system) process `pid` has used,
 * read from Linux's /proc (in 10 ms ticks); null where there is none. Read
 * from outside: a sender in a write loop can keep its own event loop busy
 * for most of a second, and would answer a question late.
 */
function cpuTime(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // After "pid (command) ": state is field 3; utime and stime are 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

/**
 * Starts `server`, then `client` against its port; resolves with what the
 * measuring side reports: {value, seconds, cpu}, where `cpu` is the CPU
 * time (µs) each process (server, client) used within the measured window
 * of `seconds`, or null for a figure that has no window (memory) or where
 * CPU time cannot be read.
 */
function measure(server, client, options, nodeFlags = [], peers = PEERS) {
  return new Promise((resolve, reject) => {
    const children = [];
    const spawn = (role, extra) => {
      const child = fork(peers, [role, JSON.stringify({ ...options, ...extra })], {
        execArgv: ['--expose-gc', ...nodeFlags],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      children.push(child);
      child.on('message', onMessage);
      child.on('exit', (code) => {
        if (code && !done) finish(new Error(`${role} exited with ${code}`));
      });
      return child;
    };
    let done = false;
    const finish = (error, value) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      for (const child of children) child.kill('SIGKILL');
      if (error) reject(error);
      else resolve(value);
    };
    const timer = setTimeout(() => finish(new Error(`${server}/${client} timed out`)), RUN_TIMEOUT_MS);
    let atStart = null;
    let startedAt = 0n;
    function onMessage(message) {
      if (message.port !== undefined) spawn(client, { port: message.port });
      else if (message.window === 'start') {
        atStart = children.map((child) => cpuTime(child.pid));
        startedAt = process.hrtime.bigint();
      } else if (message.value !== undefined) {
        const after = children.map((child) => cpuTime(child.pid));
        const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
        const known = atStart !== null && [...atStart, ...after].every((time) => time !== null);
        finish(null, { value: message.value, seconds, cpu: known ? after.map((used, i) => used - atStart[i]) : null });
      }
    }
    spawn(server, {});
  });
}

const ascending = (values) => [...values].sort((a, b) => a - b);
const middle = (sorted) => sorted[Math.floor(sorted.length / 2)];
const median = (values) => middle(ascending(values));

/**
 * How far one side's repetitions spread: half the distance between their
 * quartiles, as a share of their median (with three repetitions, half the
 * range). A change smaller than the spreads is not shown by the run.
 */
const spread = (values) => {
  const sorted = ascending(values);
  const last = sorted.length - 1;
  const q1 = sorted[Math.floor(last / 4)];
  const q3 = sorted[Math.ceil((3 * last) / 4)];
  return (q3 - q1) / 2 / middle(sorted);
};

// What to measure. `unit` is what `value` counts per second (or per session);
// `higher` says which direction is better; `target` is the issue's goal.
const figures = [];
const sizes = [
  ['64 B', 64, false, 0.1],
  ['1 KiB', KiB, false, 0.5],
  ['16 KiB', 16 * KiB, false, 0.8],
  ['64 KiB - 1', 64 * KiB - 1, false, 0.95],
  ['128 KiB - 1', 128 * KiB - 1, false, 0.95],
  ['direct 1 MiB', MiB, true, 0.95],
  ['direct 8 MiB', 8 * MiB, true, 0.95],
];
for (const [label, size, direct, target] of sizes) {
  figures.push({
    name: `throughput ${label}`,
    group: 'throughput',
    size,
    ours: ['recv-ours', 'send-ours'],
    base: ['recv-raw', 'send-raw'],
    processes: ['receiving', 'sending'],
    options: { size, direct },
    unit: 'messages/s',
    target,
  });
}
figures.push({
  name: 'ping-pong 64 B',
  ours: ['pong-ours', 'ping-ours'],
  base: ['pong-raw', 'ping-raw'],
  processes: ['echoing', 'pinging'],
  options: {},
  // Both figures near their target that move the most between runs (each
  // side's rate by 5% and more from one repetition to the next, with the
  // host): a median of 7, not 3.
  minReps: 7,
  unit: 'round trips/s',
  target: 0.9,
});
figures.push({
  name: 'session setups',
  ours: ['accept-ours', 'setup-ours'],
  base: ['accept-raw', 'setup-raw'],
  processes: ['accepting', 'calling'],
  options: {},
  minReps: 7,
  unit: 'setups/s',
  target: 0.9,
});
figures.push({
  name: 'idle memory per session',
  ours: ['hold-ours', 'open-ours'],
  base: ['hold-raw', 'open-raw'],
  options: { count: 2000 },
  // Both servers run with the same V8 settings, so that the figure counts
  // what sessions hold rather than how the GC happened to size its spaces:
  // - V8 sizes its young generation by allocation rate, and doubling it in
  //   the middle of the 2000 connections (16 to 32 MiB, seen here) would
  //   swamp the few KiB per session this figure is about: fixed 4 MiB
  //   semi-spaces, which the warm-up round fills;
  // - a full GC compacts only the pages V8 picks, and the free space left in
  //   the others moved old space by 0 to 4 pages of 256 KiB between runs
  //   (up to 500 B per session): every full GC compacts, on the main thread.
  nodeFlags: ['--min-semi-space-size=4', '--max-semi-space-size=4', '--compact-on-every-full-gc', '--single-threaded-gc'],
  // RSS still moves by a few hundred bytes per session between runs (malloc
  // and page reuse outside V8's heap): more repetitions for a steady median.
  minReps: 5,
  unit: 'bytes/session',
  lowerIsBetter: true,
  // Target: at most the baseline plus 1 KiB.
  targetDelta: KiB,
});
figures.push({
  name: 'aggregate 100 sessions x 1 KiB',
  size: KiB,
  ours: ['recv-ours', 'send-ours'],
  base: ['recv-raw', 'send-raw'],
  processes: ['receiving', 'sending'],
  options: { size: KiB, sessions: 100 },
  unit: 'messages/s',
});

function format(value, unit) {
  if (unit === 'bytes/session') return `${value.toFixed(0)} B`;
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)} M`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(1)} k`;
  return value.toFixed(1);
}

/**
 * What each process of a figure spent in the measured window, medians over
 * the repetitions: CPU µs per unit (message, round trip, setup), ms per MiB
 * moved (throughput figures), and `busy`, the share of one core it used.
 */
function cpuFigures(figure, results) {
  const measured = results.filter((result) => result.cpu !== null);
  if (measured.length === 0) return null;
  return figure.processes.map((name, side) => {
    const perUnit = median(measured.map(({ value, seconds, cpu }) => cpu[side] / (value * seconds)));
    const busy = median(measured.map(({ seconds, cpu }) => cpu[side] / 1e6 / seconds));
    const perMiB = figure.size ? (perUnit * MiB) / figure.size / 1000 : null;
    return { process: name, perUnit, perMiB, busy };
  });
}

/** Prints cpuFigures for every figure that has them, ours beside the baseline. */
function printCpu(rows) {
  const measured = rows.filter((row) => row.cpu && row.cpu.ours && row.cpu.baseline);
  if (measured.length === 0) return;
  console.log('\nCPU time of each process in the measured window (medians): µs per unit (message, round trip or setup),');
  console.log('ms per MiB moved, and the share of one core it kept busy; "<" marks the busier process, the likely bottleneck.');
  const header = ['figure', 'process', 'ours µs', 'ms/MiB', 'busy', '', 'base µs', 'ms/MiB', 'busy', ''];
  const widths = [34, 11, 10, 9, 7, 2, 10, 9, 7, 2];
  const line = (cells) => cells.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('');
  console.log(line(header));
  const number = (value) => (value === null ? '' : value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : value.toFixed(0));
  for (const row of measured) {
    const busiest = (side) => Math.max(...side.map((p) => p.busy));
    row.cpu.ours.forEach((ours, i) => {
      const base = row.cpu.baseline[i];
      console.log(
        line([
          i === 0 ? row.name : '',
          ours.process,
          number(ours.perUnit),
          number(ours.perMiB),
          `${(ours.busy * 100).toFixed(0)}%`,
          ours.busy === busiest(row.cpu.ours) ? '<' : '',
          number(base.perUnit),
          number(base.perMiB),
          `${(base.busy * 100).toFixed(0)}%`,
          base.busy === busiest(row.cpu.baseline) ? '<' : '',
        ])
      );
    });
  }
}

/** The figure's target as printed; none when comparing two versions. */
function targetText(figure) {
  if (AGAINST !== null) return '';
  if (figure.targetDelta !== undefined) return `<= +${figure.targetDelta} B`;
  return figure.target !== undefined ? `>= ${figure.target}` : '';
}

function verdict(figure, ours, base) {
  // Two versions: how this one differs (the targets are against plain sockets).
  if (AGAINST !== null) {
    if (figure.lowerIsBetter) return `${ours - base >= 0 ? '+' : ''}${(ours - base).toFixed(0)} B`;
    return `${ours >= base ? '+' : ''}${((ours / base - 1) * 100).toFixed(1)}%`;
  }
  if (figure.targetDelta !== undefined) {
    return ours - base <= figure.targetDelta ? 'met' : 'MISSED';
  }
  if (figure.target === undefined) return '';
  return ours / base >= figure.target ? 'met' : 'MISSED';
}

function renderSvg(rows) {
  const bars = rows.filter((row) => row.group === 'throughput');
  const width = 760;
  const height = 360;
  const left = 70;
  const bottom = 300;
  const top = 52;
  const max = Math.max(...bars.flatMap((row) => [row.oursMiB, row.baseMiB]));
  const slot = (width - left - 20) / bars.length;
  const scale = (mib) => ((bottom - top) * mib) / max;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">One-way throughput by message size (MiB/s, higher is better)</text>`,
    `<line x1="${left}" y1="${bottom}" x2="${width - 10}" y2="${bottom}" stroke="#333"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${bottom}" stroke="#333"/>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const value = (max * i) / 4;
    const y = bottom - scale(value);
    parts.push(`<line x1="${left - 4}" y1="${y}" x2="${width - 10}" y2="${y}" stroke="#ddd"/>`);
    parts.push(`<text x="${left - 8}" y="${y + 4}" text-anchor="end">${value.toFixed(0)}</text>`);
  }
  bars.forEach((row, i) => {
    const x = left + i * slot + slot * 0.15;
    const w = slot * 0.33;
    const oursHeight = scale(row.oursMiB);
    const baseHeight = scale(row.baseMiB);
    parts.push(`<rect x="${x}" y="${bottom - baseHeight}" width="${w}" height="${baseHeight}" fill="#b0b7c3"/>`);
    parts.push(`<rect x="${x + w}" y="${bottom - oursHeight}" width="${w}" height="${oursHeight}" fill="#2f6fdb"/>`);
    parts.push(
      `<text x="${x + w}" y="${bottom - Math.max(oursHeight, baseHeight) - 6}" text-anchor="middle" font-size="11">${row.ratio.toFixed(3)}x</text>`
    );
    parts.push(`<text x="${x + w}" y="${bottom + 16}" text-anchor="middle" font-size="11">${row.label}</text>`);
  });
  parts.push(`<rect x="${left + 10}" y="${bottom + 30}" width="12" height="12" fill="#b0b7c3"/>`);
  parts.push(`<text x="${left + 28}" y="${bottom + 41}">plain net socket, same frame bytes in 64 KiB writes (the limit)</text>`);
  parts.push(`<rect x="${left + 420}" y="${bottom + 30}" width="12" height="12" fill="#2f6fdb"/>`);
  parts.push(`<text x="${left + 438}" y="${bottom + 41}">netbios-session, one write() per message</text>`);
  parts.push('</svg>');
  return parts.join('\n');
}

// Session setups leave the most TIME_WAIT sockets behind: measure them last.
figures.sort((a, b) => (a.name === 'session setups') - (b.name === 'session setups'));
figures.forEach((figure, i) => {
  figure.options.host = `127.0.0.${10 + i}`;
});

async function main() {
  const started = Date.now();
  const rows = [];
  const selected = figures.filter((figure) => !ONLY || figure.name.includes(ONLY));
  if (selected.length === 0) return;
  console.log(`netbios-session benchmarks: ${REPS} repetitions (more where a figure says so), ours and baseline alternating (each first in turn), medians`);
  if (AGAINST !== null) console.log(`baseline: the netbios-session in ${AGAINST} (same roles, its benchmark/peers.js)`);
  console.log(`${os.cpus().length} x ${os.cpus()[0].model}, Node ${process.version}\n`);
  const header = ['figure', 'ours', 'baseline', 'ratio', AGAINST === null ? 'target' : '', AGAINST === null ? '' : 'change'];
  console.log(header.map((h, i) => (i === 0 ? h.padEnd(34) : h.padStart(12))).join(''));
  for (const figure of selected) {
    const ours = [];
    const base = [];
    const reps = Math.max(REPS, figure.minReps || 0);
    const measureOurs = () => measure(...figure.ours, figure.options, figure.nodeFlags);
    const measureBase = () =>
      AGAINST === null
        ? measure(...figure.base, figure.options, figure.nodeFlags)
        : measure(...figure.ours, figure.options, figure.nodeFlags, path.join(AGAINST, 'benchmark', 'peers.js'));
    for (let rep = 0; rep < reps; rep++) {
      // Which goes first swaps every repetition: in a day of A/Bs of two
      // versions at 64 KiB - 1, the one measured first came out lower in
      // most runs, whichever version it was.
      if (rep % 2 === 0) {
        ours.push(await measureOurs());
        base.push(await measureBase());
      } else {
        base.push(await measureBase());
        ours.push(await measureOurs());
      }
    }
    const oursValues = ours.map((result) => result.value);
    const baseValues = base.map((result) => result.value);
    const o = median(oursValues);
    const b = median(baseValues);
    const ratio = o / b;
    const target = targetText(figure);
    const row = {
      name: figure.name,
      group: figure.group,
      label: figure.name.replace('throughput ', ''),
      unit: figure.unit,
      ours: o,
      baseline: b,
      samples: { ours: oursValues, baseline: baseValues },
      spread: { ours: spread(oursValues), baseline: spread(baseValues) },
      cpu: figure.processes ? { ours: cpuFigures(figure, ours), baseline: cpuFigures(figure, base) } : null,
      ratio,
      target,
      verdict: verdict(figure, o, b),
    };
    if (figure.size) {
      row.oursMiB = (o * figure.size) / MiB;
      row.baseMiB = (b * figure.size) / MiB;
    }
    rows.push(row);
    const cells = [
      figure.name.padEnd(34),
      format(o, figure.unit).padStart(12),
      format(b, figure.unit).padStart(12),
      ratio.toFixed(3).padStart(12),
      target.padStart(12),
      `  ${row.verdict}${figure.size ? `  (${row.oursMiB.toFixed(0)} vs ${row.baseMiB.toFixed(0)} MiB/s)` : ''}  ${figure.unit}`,
      `  spread ±${(row.spread.ours * 100).toFixed(0)}% / ±${(row.spread.baseline * 100).toFixed(0)}%`,
    ];
    console.log(cells.join(''));
  }
  printCpu(rows);
  // A comparison of two versions is not this version's record.
  if (AGAINST !== null) return;
  const results = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    cpu: os.cpus()[0].model,
    repetitions: REPS,
    seconds: (Date.now() - started) / 1000,
    figures: rows,
  };
  fs.writeFileSync(path.join(__dirname, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  if (rows.some((row) => row.group === 'throughput')) {
    fs.writeFileSync(path.join(__dirname, 'throughput.svg'), `${renderSvg(rows)}\n`);
  }
  console.log(`\n${rows.length} figures in ${results.seconds.toFixed(0)} s; wrote benchmark/results.json and benchmark/throughput.svg`);
}

/** Runs the Rust benchmark with the same --only and --reps; throws if it fails. */
function runRust() {
  if (argv.includes('--no-rust') || AGAINST !== null) return;
  // Its figures are named "rust ..." (crates/netbios-session-tokio/examples/bench).
  if (ONLY && !ONLY.startsWith('rust')) return;
  const args = ['run', '--release', '--quiet', '-p', 'netbios-session-tokio', '--example', 'bench', '--'];
  if (ONLY) args.push('--only', ONLY);
  if (argv.includes('--reps')) args.push('--reps', String(REPS));
  console.log('');
  const run = spawnSync('cargo', args, { cwd: path.join(__dirname, '..'), stdio: 'inherit' });
  if (run.error && run.error.code === 'ENOENT') {
    console.log('Rust figures skipped: cargo is not on the PATH');
  } else if (run.error || run.status !== 0) {
    throw run.error || new Error(`the Rust benchmark failed (${run.signal || `exit status ${run.status}`})`);
  }
}

// `--render` redraws the chart from benchmark/results.json without measuring.
if (argv.includes('--render')) {
  const { figures: rows } = JSON.parse(fs.readFileSync(path.join(__dirname, 'results.json'), 'utf8'));
  fs.writeFileSync(path.join(__dirname, 'throughput.svg'), `${renderSvg(rows)}\n`);
  process.exit(0);
}

main().then(runRust).catch((error) => {
  console.error(error);
  process.exit(1);
});
