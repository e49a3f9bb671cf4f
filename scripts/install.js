#!/usr/bin/env node
'use strict';
// The package's install script. Installed as a dependency, it does nothing
// when the prebuilt addon for this platform loads; otherwise it builds from
// source in a temporary cargo target folder that it removes afterwards, so
// the installed package stays small. In a clone of the repository, or with
// NETBIOS_SESSION_BUILD_FROM_SOURCE=1, it always builds from source.

const fs = require('fs');
const os = require('os');
const path = require('path');
const { build, install, BuildError, ROOT } = require('./build');
const addon = require('../lib/addon');
const platform = require('../lib/platform');

const FORCE = 'NETBIOS_SESSION_BUILD_FROM_SOURCE';

const say = (text) => console.log(`netbios-session: ${text}`);

/** True when this folder is an installed dependency rather than a clone being developed. */
function installedAsDependency() {
  return path.resolve(ROOT).split(path.sep).includes('node_modules');
}

/** Why the prebuilt addon for this platform does not load, or null when it loads. */
function prebuiltProblem() {
  const machine = platform.current();
  const target = platform.targetFor(machine);
  if (!target) return `no prebuilt package is made for ${machine.name}`;
  try {
    addon.loadPrebuilt(target);
    return null;
  } catch (error) {
    const why = addon.reason(error);
    return `the prebuilt package ${target.package} ${why === 'not installed' ? 'is not installed' : `did not load (${why})`}`;
  }
}

function main() {
  const forced = /^(1|true|yes)$/i.test(process.env[FORCE] || '');
  const dependency = installedAsDependency();
  if (dependency && !forced) {
    const problem = prebuiltProblem();
    if (problem === null) return 0; // the prebuilt addon loads: nothing to do
    say(`${problem}; building the addon from source with cargo. This takes a minute or two.`);
  } else {
    say(`building the addon from source with cargo (${forced ? `${FORCE} is set` : 'a development clone'}).`);
  }

  // An installed package builds in a temporary target folder unless the user
  // chose one; a clone keeps target/ for fast rebuilds.
  const temporary = dependency && !process.env.CARGO_TARGET_DIR
    ? fs.mkdtempSync(path.join(os.tmpdir(), 'netbios-session-build-'))
    : null;
  const started = Date.now();
  try {
    install(build({ targetDir: temporary || undefined, locked: dependency }), addon.BUILT);
  } catch (error) {
    if (!(error instanceof BuildError)) throw error;
    say(`the source build failed: ${error.message}.`);
    // A clone, or a build that was asked for, must build; an installed
    // dependency still installs, and require() then explains both ways out.
    if (!dependency || forced) return 1;
    say('the package is installed without its addon: require() will say how to get one.');
    return 0;
  } finally {
    if (temporary) fs.rmSync(temporary, { recursive: true, force: true });
  }
  say(`built ${path.relative(ROOT, addon.BUILT)} in ${((Date.now() - started) / 1000).toFixed(0)} s.`);
  return 0;
}

process.exitCode = main();
