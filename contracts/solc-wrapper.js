#!/usr/bin/env node
// A stand-in for the native `solc` binary, backed by solcjs from the repo's
// node_modules, so that py-solc-x (solcx.compile_standard(solc_binary=...))
// can compile offline. Only what contracts/compile.py needs is supported:
//
//   solc-wrapper.js --version
//   solc-wrapper.js --standard-json [--base-path DIR] [--include-path DIR]...
//                   [--allow-paths DIR[,DIR...]]   < input.json > output.json
//
// Imports are resolved, in order, against: the base path (default: the repo
// root), each --include-path, <repo>/node_modules, <repo>/contracts/src. A
// resolved file must lie inside one of those roots. --allow-paths is accepted
// for compatibility with py-solc-x and native solc, but grants nothing beyond
// the roots above. Like native solc, compilation errors are reported inside
// the output JSON with exit status 0; bad command lines exit 1 with
// "unrecognised option '<flag>'" on stderr, the form py-solc-x parses.
'use strict';

const fs = require('fs');
const path = require('path');

const REPO_ROOT = path.resolve(__dirname, '..');

function fail(message) {
  process.stderr.write(message + '\n');
  process.exit(1);
}

function loadSolc() {
  try {
    return require('solc');
  } catch (err) {
    if (err && err.code === 'MODULE_NOT_FOUND') {
      fail(`solc-wrapper: the npm package "solc" is not installed; run \`npm ci\` in ${REPO_ROOT}`);
    }
    throw err;
  }
}

function parseArgs(argv) {
  const opts = { version: false, standardJson: false, basePath: null, includePaths: [], allowPaths: [] };
  const takeValue = (i, flag) => {
    if (i + 1 >= argv.length) fail(`option '${flag}' requires an argument`);
    return argv[i + 1];
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    switch (arg) {
      case '--version':
        opts.version = true;
        break;
      case '--standard-json':
        opts.standardJson = true;
        break;
      case '--base-path':
        opts.basePath = takeValue(i++, arg);
        break;
      case '--include-path':
        opts.includePaths.push(takeValue(i++, arg));
        break;
      case '--allow-paths':
        opts.allowPaths.push(...takeValue(i++, arg).split(',').filter(Boolean));
        break;
      case '-':
        break; // "read from stdin": --standard-json always does
      default:
        fail(`unrecognised option '${arg}'`);
    }
  }
  return opts;
}

function isInside(root, file) {
  const rel = path.relative(root, file);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

function makeImportCallback(opts) {
  const roots = [
    path.resolve(opts.basePath || REPO_ROOT),
    ...opts.includePaths.map((p) => path.resolve(p)),
    path.join(REPO_ROOT, 'node_modules'),
    path.join(REPO_ROOT, 'contracts', 'src'),
  ].filter((root, i, all) => all.indexOf(root) === i);

  return function findImports(sourceUnitName) {
    if (path.isAbsolute(sourceUnitName)) {
      return { error: `absolute import paths are not allowed: ${sourceUnitName}` };
    }
    for (const root of roots) {
      const file = path.resolve(root, sourceUnitName);
      if (!isInside(root, file)) continue;
      try {
        if (fs.statSync(file).isFile()) return { contents: fs.readFileSync(file, 'utf8') };
      } catch (err) {
        if (err.code !== 'ENOENT' && err.code !== 'ENOTDIR') return { error: String(err) };
      }
    }
    return { error: `File not found: ${sourceUnitName} (searched ${roots.join(', ')})` };
  };
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.version) {
    const solc = loadSolc();
    process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`);
    return;
  }
  if (!opts.standardJson) fail('solc-wrapper: only --version and --standard-json are supported');
  const solc = loadSolc();
  const input = fs.readFileSync(0, 'utf8');
  const output = solc.compile(input, { import: makeImportCallback(opts) });
  process.stdout.write(output + '\n');
}

main();
