#!/usr/bin/env node
'use strict';
// `npm run soak`: load, soak and leak runs at full size, on 127.0.0.1 only.
//
//   load   SOAK_SESSIONS (1000) concurrent sessions, all open at once, each
//          sending SOAK_MESSAGES (100) messages of 0 to 131071 bytes with
//          sequence numbers and CRC-32s; the server (a child process) checks
//          and echoes each one, the client checks each echo. SOAK_RESETTERS
//          (50) extra clients reset their connection mid-frame along the way.
//   soak   SOAK_ONE_SESSION_MESSAGES (1,000,000) messages of 0 to
//          SOAK_ONE_SESSION_MAX (1024) bytes through one session, echoed.
//   churn  SOAK_CHURN (10,000) sessions opened and closed, SOAK_CHURN_CONCURRENCY
//          (100) at a time, one checked message each.
//
// Pass: nothing lost, corrupted or reordered; the resetting clients disturb
// no one; in both processes the active handles
// (process.getActiveResourcesInfo()) equal the baseline exactly, the JS heap
// is within SOAK_HEAP_TOLERANCE_MIB (4) and RSS within
// SOAK_RSS_TOLERANCE_MIB (64) of the baseline. The baseline is taken after a
// warm-up (a small round of each run), so one-time growth (JIT code, V8
// semi-spaces, the allocator's arenas) is not taken for a leak; the cold
// figures are printed too.

const { startServer, snapshot, runLoad, runChurn, handleDelta, MiB } = require('./harness');

const env = (name, fallback) => {
  const value = process.env[name];
  if (value === undefined || value === '') return fallback;
  const number = Number(value);
  if (!Number.isFinite(number) || number < 0) throw new RangeError(`${name} must be a non-negative number, got ${value}`);
  return number;
};

const config = {
  sessions: env('SOAK_SESSIONS', 1000),
  messages: env('SOAK_MESSAGES', 100),
  resetters: env('SOAK_RESETTERS', 50),
  oneSessionMessages: env('SOAK_ONE_SESSION_MESSAGES', 1000000),
  oneSessionMax: env('SOAK_ONE_SESSION_MAX', 1024),
  churn: env('SOAK_CHURN', 10000),
  churnConcurrency: env('SOAK_CHURN_CONCURRENCY', 100),
  rssToleranceMiB: env('SOAK_RSS_TOLERANCE_MIB', 64),
  heapToleranceMiB: env('SOAK_HEAP_TOLERANCE_MIB', 4),
  timeout: env('SOAK_TIMEOUT_SECONDS', 1200) * 1000,
};

const mib = (bytes) => (bytes / MiB).toFixed(1);

function describe(run) {
  const lost = run.expected - run.echoed - run.problems.length;
  return `${run.echoed}/${run.expected} messages echoed intact, ${run.problems.length} bad, ${lost} lost, ${run.errors.length} session errors, ${run.seconds.toFixed(1)} s`;
}

async function both(server) {
  // One after the other: a pending stats request holds a timer of its own.
  const client = await snapshot();
  const remote = await server.stats({ gc: true });
  return { client, server: { memory: remote.memory, handles: remote.handles }, stats: remote.stats };
}

async function main() {
  console.log(`soak: ${JSON.stringify(config)}`);
  const server = await startServer();
  const failures = [];
  try {
    const cold = await both(server);

    console.log(`warm-up: ${config.sessions} sessions x 10 messages, 100,000 messages through one session, 1000 sessions opened and closed`);
    const warm = [
      await runLoad(server.port, { sessions: config.sessions, messages: 10, maxLength: 131071, resetters: 5, idBase: 9000000, timeout: config.timeout }),
      await runLoad(server.port, { sessions: 1, messages: 100000, maxLength: config.oneSessionMax, idBase: 9100000, timeout: config.timeout }),
      await runChurn(server.port, { sessions: 1000, concurrency: config.churnConcurrency, idBase: 9200000, timeout: config.timeout }),
    ];
    for (const run of warm) if (run.problems.length || run.echoed !== run.expected) failures.push(`warm-up: ${describe(run)}`);
    const baseline = await both(server);

    console.log(`load: ${config.sessions} concurrent sessions x ${config.messages} messages of 0..131071 bytes, ${config.resetters} resetting clients`);
    const load = await runLoad(server.port, {
      sessions: config.sessions,
      messages: config.messages,
      maxLength: 131071,
      resetters: config.resetters,
      timeout: config.timeout,
    });
    console.log(`  ${describe(load)} (all ${config.sessions} connected in ${load.connectSeconds.toFixed(1)} s)`);
    const afterLoad = await server.stats({ gc: false });

    console.log(`soak: ${config.oneSessionMessages} messages of 0..${config.oneSessionMax} bytes through one session`);
    const soak = await runLoad(server.port, {
      sessions: 1,
      messages: config.oneSessionMessages,
      maxLength: config.oneSessionMax,
      idBase: 8000000,
      timeout: config.timeout,
    });
    console.log(`  ${describe(soak)}`);

    console.log(`churn: ${config.churn} sessions opened and closed, ${config.churnConcurrency} at a time`);
    // In five segments, with both processes' RSS after each: a leak climbs, settling levels off.
    const segments = [];
    const churn = { sessions: 0, messages: 1, expected: 0, echoed: 0, problems: [], errors: [], seconds: 0 };
    for (let i = 0; i < 5; i++) {
      const part = await runChurn(server.port, {
        sessions: Math.ceil(config.churn / 5),
        concurrency: config.churnConcurrency,
        idBase: 7000000 + i * 1000000,
        timeout: config.timeout,
      });
      for (const key of ['sessions', 'expected', 'echoed', 'seconds']) churn[key] += part[key];
      churn.problems.push(...part.problems);
      churn.errors.push(...part.errors);
      const remote = await server.stats({ gc: true });
      segments.push(`${mib((await snapshot()).memory.rss)}/${mib(remote.memory.rss)}`);
    }
    console.log(`  RSS after each fifth (client/server MiB): ${segments.join(', ')}`);
    console.log(`  ${describe(churn)}`);

    const after = await both(server);

    for (const [name, run] of [['load', load], ['soak', soak], ['churn', churn]]) {
      if (run.problems.length || run.echoed !== run.expected || run.errors.length) {
        failures.push(`${name}: ${describe(run)}; first problems: ${run.problems.slice(0, 3).join('; ')} ${run.errors.slice(0, 3).join('; ')}`);
      }
    }
    const { stats } = after;
    if (stats.bad) failures.push(`server saw ${stats.bad} bad messages: ${stats.problems.slice(0, 3).join('; ')}`);
    const resetsSeen = (afterLoad.stats.errors.ECONNRESET || 0) + (afterLoad.stats.errors.ERR_NETBIOS_PROTOCOL || 0);
    console.log(`server: ${stats.accepted} sessions accepted, ${stats.closed} closed, ${stats.messages} messages checked (${mib(stats.bytes)} MiB), errors ${JSON.stringify(stats.errors)}`);
    if (stats.accepted !== stats.closed) failures.push(`server: ${stats.accepted} sessions accepted but ${stats.closed} closed`);
    if (resetsSeen < config.resetters) failures.push(`server: ${resetsSeen} errors for ${config.resetters} resetting clients`);

    console.log('\nmemory and handles: cold -> baseline (after warm-up) -> after');
    for (const side of ['client', 'server']) {
      const [c, b, a] = [cold[side], baseline[side], after[side]];
      console.log(
        `  ${side}: RSS ${mib(c.memory.rss)} -> ${mib(b.memory.rss)} -> ${mib(a.memory.rss)} MiB, ` +
          `JS heap ${mib(c.memory.heapUsed)} -> ${mib(b.memory.heapUsed)} -> ${mib(a.memory.heapUsed)} MiB, ` +
          `external ${mib(b.memory.external)} -> ${mib(a.memory.external)} MiB; ` +
          `handles ${JSON.stringify(b.handles)} -> ${JSON.stringify(a.handles)}`
      );
      const rssGrowth = (a.memory.rss - b.memory.rss) / MiB;
      const heapGrowth = (a.memory.heapUsed - b.memory.heapUsed) / MiB;
      const delta = handleDelta(b.handles, a.handles);
      if (Object.keys(delta).length) failures.push(`${side}: active handles differ from the baseline: ${JSON.stringify(delta)}`);
      if (rssGrowth > config.rssToleranceMiB) failures.push(`${side}: RSS grew ${rssGrowth.toFixed(1)} MiB over the baseline (tolerance ${config.rssToleranceMiB})`);
      if (heapGrowth > config.heapToleranceMiB) failures.push(`${side}: JS heap grew ${heapGrowth.toFixed(1)} MiB (tolerance ${config.heapToleranceMiB})`);
    }
  } finally {
    await server.stop().catch((error) => failures.push(String(error)));
  }
  if (failures.length) {
    console.error(`\nsoak: FAILED\n  ${failures.join('\n  ')}`);
    process.exit(1);
  }
  console.log('\nsoak: passed');
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
