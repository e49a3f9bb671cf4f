'use strict';
// Where npm's own CLI script is, so that scripts run npm as
// `node npm-cli.js ...`: no shell, no npm.cmd on Windows. The npm that runs
// the script (npm_execpath), else the one installed beside this node, else
// the one on the PATH.

const fs = require('fs');
const path = require('path');

function npmCli() {
  const bin = path.dirname(process.execPath);
  const candidates = [
    process.env.npm_execpath,
    path.join(bin, '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js'), // Unix layouts
    path.join(bin, 'node_modules', 'npm', 'bin', 'npm-cli.js'), // Windows layout
  ];
  // Else the npm on the PATH: a link to npm-cli.js where npm is installed as usual.
  for (const folder of (process.env.PATH || '').split(path.delimiter)) {
    try {
      candidates.push(fs.realpathSync(path.join(folder, 'npm')));
    } catch {
      // No npm in this folder.
    }
  }
  const found = candidates.find((file) => file && /npm-cli\.js$/.test(file) && fs.existsSync(file));
  if (!found) throw new Error(`cannot find npm's npm-cli.js (tried ${candidates.filter(Boolean).join(', ')})`);
  return found;
}

module.exports = { npmCli };
