#!/usr/bin/env node
'use strict';
// The package's install script. Installed as a dependency, it does nothing
// when the prebuilt addon for this platform loads; otherwise it builds from
// source in a cargo target folder inside the package (TARGET_FOLDER, not
// /tmp, which may be noexec) that it removes afterwards, so the installed
// package stays small. In a clone of the repository, or with
// NETBIOS_SESSION_BUILD_FROM_SOURCE=1, it always builds from source.

const fs = require('fs');
const path = require('path');
const { build, install, BuildError, ROOT } = require('./build');
const addon = require('../lib/addon');
const platform = require('../lib/platform');

const FORCE = 'NETBIOS_SESSION_BUILD_FROM_SOURCE';
// An installed package's cargo target folder, for the length of the build.
const TARGET_FOLDER = path.join(ROOT, '.cargo-target');

const say = (text) => console.log(`netbios-session: ${text}`);

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
  const dependency = addon.installedAsDependency();
  if (dependency && !forced) {
    const problem = prebuiltProblem();
    if (problem === null) return 0; // the prebuilt addon loads: nothing to do
    say(`${problem}; building the addon from source with cargo. This takes about half a minute ` +
      'on 2 cores, longer the first time (cargo downloads the crates).');
  } else {
    say(`building the addon from source with cargo (${forced ? `${FORCE} is set` : 'a development clone'}).`);
  }

  // An installed package builds in a target folder it then removes, unless
  // the user chose one; a clone keeps target/ for fast rebuilds.
  // (An interrupted build leaves it inside the package, gone with it.)
  const temporary = dependency && !process.env.CARGO_TARGET_DIR ? TARGET_FOLDER : null;
  const started = Date.now();
  try {
    install(build({ targetDir: temporary || undefined, locked: dependency }), addon.BUILT);
  } catch (error) {
    say(`the source build failed: ${error instanceof BuildError ? error.message : error.stack}.`);
    // A clone, or a build that was asked for, must build; an installed
    // dependency still installs, and require() then explains the ways out.
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
