'use strict';
// A private npm registry on loopback for the install tests: verdaccio with
// no uplinks, so it serves exactly the packages the tests publish to it.

const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const net = require('net');
const path = require('path');
const { setTimeout: sleep } = require('timers/promises');

/** A free TCP port on 127.0.0.1. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function request(url, options = {}) {
  const response = await fetch(url, options);
  const text = await response.text();
  return { status: response.status, body: text };
}

/**
 * Starts verdaccio with its storage under `dir` and registers a publishing
 * user. Returns { url, publish(tarball), stop() }.
 */
async function startRegistry({ dir, tools }) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/`;
  const config = path.join(dir, 'verdaccio.yaml');
  fs.mkdirSync(path.join(dir, 'storage'), { recursive: true });
  fs.writeFileSync(config, [
    `storage: ${JSON.stringify(path.join(dir, 'storage'))}`,
    'auth:',
    '  htpasswd:',
    `    file: ${JSON.stringify(path.join(dir, 'htpasswd'))}`,
    '    max_users: 10',
    'uplinks: {}',
    'packages:',
    "  '**':",
    '    access: $all',
    '    publish: $authenticated',
    'web:',
    '  enable: false',
    'log: { type: stdout, format: pretty, level: warn }',
    '',
  ].join('\n'));

  const log = fs.openSync(path.join(dir, 'verdaccio.log'), 'a');
  const child = spawn(process.execPath, [tools.verdaccio, '--config', config, '--listen', `127.0.0.1:${port}`], {
    stdio: ['ignore', log, log],
  });
  fs.closeSync(log);
  let exited = null;
  child.once('exit', (code, signal) => { exited = signal || code; });

  // Ready when it answers its ping, within 60 s.
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited !== null) throw new Error(`verdaccio exited (${exited}): ${fs.readFileSync(path.join(dir, 'verdaccio.log'), 'utf8')}`);
    try {
      if ((await request(`${url}-/ping`)).status === 200) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      child.kill();
      throw new Error('verdaccio did not answer within 60 s');
    }
    await sleep(200);
  }

  // A user for publishing: the registry answers the CouchDB-style sign-up with a token.
  const signUp = await request(`${url}-/user/org.couchdb.user:ci`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'ci', password: 'install-tests' }),
  });
  const { token } = JSON.parse(signUp.body);
  if (!token) throw new Error(`verdaccio gave no token: ${signUp.status} ${signUp.body}`);
  const npmrc = path.join(dir, 'publish.npmrc');
  fs.writeFileSync(npmrc, `registry=${url}\n//127.0.0.1:${port}/:_authToken=${token}\n`);

  return {
    url,
    publish(tarball) {
      execFileSync(process.execPath, [tools.npm, 'publish', tarball, '--userconfig', npmrc, '--registry', url,
        '--loglevel=error', '--ignore-scripts'], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
    },
    stop() {
      if (exited === null) child.kill();
    },
  };
}

module.exports = { startRegistry };
