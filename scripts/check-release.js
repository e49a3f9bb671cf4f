#!/usr/bin/env node
'use strict';
// Release gate, run by .github/workflows/release.yml before building and
// again before publishing: the tag being released names package.json's
// version, and optionalDependencies list exactly the platform packages of
// lib/platform.js at that version. Prints a GitHub error annotation and
// exits 1 otherwise.
//
//   node scripts/check-release.js [--tag TAG] [--dry-run]
//
// TAG defaults to $GITHUB_REF_NAME when the ref is a tag; --dry-run accepts
// a run without a tag (a tag, if any, must still match).

const { parseArgs } = require('util');
const { TARGETS } = require('../lib/platform');
const { version, optionalDependencies = {} } = require('../package.json');

const { values } = parseArgs({ options: { tag: { type: 'string' }, 'dry-run': { type: 'boolean' } } });
const tag = values.tag || (process.env.GITHUB_REF_TYPE === 'tag' ? process.env.GITHUB_REF_NAME : undefined);

const problems = [];
if (!tag && !values['dry-run']) problems.push(`publishing needs the tag v${version}: run on that tag, or as a dry run`);
else if (tag && tag !== `v${version}`) problems.push(`the tag ${tag} does not match package.json's version ${version} (the tag must be v${version})`);

const wanted = TARGETS.map((target) => `${target.package}@${version}`).sort();
const listed = Object.entries(optionalDependencies).map(([name, range]) => `${name}@${range}`).sort();
if (wanted.join() !== listed.join()) {
  problems.push(`optionalDependencies must be exactly ${wanted.join(', ')}; they are ${listed.join(', ') || 'none'}`);
}

for (const problem of problems) console.log(`::error::${problem}`);
if (problems.length) process.exit(1);
console.log(`release ${version}: ${tag ? `tag ${tag}` : 'dry run, no tag'}, ${TARGETS.length} platform packages`);
