// Lays out the npm packages for `npm pack` (used by `make dist-npm`, packaging/npm.mk):
//
//   node packaging/npm/stage.js bindings/node target/npm 0.2.0 [path/to/omnitron]
//
// Before it runs, <stage>/native holds the build: dist/ (the TypeScript layer), native.js and
// native.d.ts (napi's loader and typings) and omnitron.<platform>.node (the addon). It then
//   - moves each addon into <stage>/<platform>/ with that platform's package.json and README.md from
//     bindings/node/npm/<platform>/ (napi's per-platform packages, made by `napi create-npm-dirs`);
//   - writes <stage>/native/package.json: the repository's one without its scripts and
//     devDependencies, plus optionalDependencies on every per-platform package at its exact version,
//     as `napi pre-publish` does at publish time (the repository's own package.json cannot list
//     them: `npm ci` there would look for packages that are not published yet);
//   - copies packaging/npm/README.md as the main package's README;
//   - copies the omnitron command's binary, when given, beside the addon (it is built for this
//     machine, like the addon): the main package's `omnitron` bin (dist/cli.js) runs it;
// and prints the package directories to pack, one a line. Every version must be the workspace's.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

function fail(msg) {
  process.stderr.write(`stage.js: ${msg}\n`);
  process.exit(1);
}

const [nodeDir, stage, version, cli] = process.argv.slice(2);
if (!nodeDir || !stage || !version) fail('usage: node stage.js <bindings/node> <stage dir> <version>');

const readJson = (f) => JSON.parse(fs.readFileSync(f, 'utf8'));
const pkg = readJson(path.join(nodeDir, 'package.json'));
if (pkg.version !== version) fail(`${nodeDir}/package.json has version ${pkg.version}, the workspace ${version}`);
const binary = pkg.napi && pkg.napi.binaryName;
if (!binary) fail(`${nodeDir}/package.json has no napi.binaryName`);

const main = path.join(stage, 'native');
const npmDir = path.join(nodeDir, 'npm');
const platforms = fs.existsSync(npmDir) ? fs.readdirSync(npmDir).filter((d) => fs.existsSync(path.join(npmDir, d, 'package.json'))).sort() : [];

const optional = {};
for (const platform of platforms) {
  const p = readJson(path.join(npmDir, platform, 'package.json'));
  if (p.name !== `${pkg.name}-${platform}`) fail(`${npmDir}/${platform}/package.json is named ${p.name}, not ${pkg.name}-${platform}`);
  if (p.version !== version) fail(`${p.name} has version ${p.version}, the workspace ${version}`);
  optional[p.name] = p.version;
}

const packDirs = [];
for (const f of fs.readdirSync(main).sort()) {
  const m = f.match(new RegExp(`^${binary}\\.(.+)\\.node$`));
  if (!m) continue;
  const platform = m[1];
  if (!platforms.includes(platform)) fail(`built ${f} but ${npmDir}/${platform}/ does not exist: run napi create-npm-dirs in ${nodeDir}`);
  const dir = path.join(stage, platform);
  fs.mkdirSync(dir, { recursive: true });
  for (const meta of ['package.json', 'README.md']) {
    const from = path.join(npmDir, platform, meta);
    if (fs.existsSync(from)) fs.copyFileSync(from, path.join(dir, meta));
  }
  fs.renameSync(path.join(main, f), path.join(dir, f));
  if (cli) {
    fs.copyFileSync(cli, path.join(dir, 'omnitron'));
    fs.chmodSync(path.join(dir, 'omnitron'), 0o755);
  }
  packDirs.push(dir);
}
if (packDirs.length === 0) fail(`no ${binary}.<platform>.node in ${main}`);

const shipped = { ...pkg };
delete shipped.scripts;
delete shipped.devDependencies;
shipped.optionalDependencies = { ...(pkg.optionalDependencies || {}), ...optional };
fs.writeFileSync(path.join(main, 'package.json'), JSON.stringify(shipped, null, 2) + '\n');
fs.copyFileSync(path.join(__dirname, 'README.md'), path.join(main, 'README.md'));

process.stdout.write([main, ...packDirs].join('\n') + '\n');
