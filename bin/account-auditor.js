#!/usr/bin/env node
// The command line runs its esbuild bundle, dist/cli/main.mjs, which `npm ci` builds (the
// `prepare` script) and `npm run build` rebuilds. A bundle that is missing, or older than any
// file it was built from (dist/cli/sources.json lists them), is rebuilt here first, so an edit
// under lib/ takes effect on the next call; without esbuild (no devDependencies) that is an
// error naming `npm run build`, never a run of stale code.
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const BUNDLE = `${ROOT}dist/cli/main.mjs`;
const SOURCES = `${ROOT}dist/cli/sources.json`;

/** Why the bundle must be rebuilt, or null when it is current: one stat per source file. */
function staleness() {
  let sources;
  try {
    sources = JSON.parse(readFileSync(SOURCES, 'utf8'));
    statSync(BUNDLE);
  } catch {
    return 'there is no bundle';
  }
  for (const file of sources.files) {
    let mtime;
    try {
      mtime = statSync(`${ROOT}${file}`).mtimeMs;
    } catch {
      return `${file} is gone`;
    }
    if (mtime >= sources.builtAt) return `${file} changed`;
  }
  return null;
}

const stale = staleness();
if (stale) {
  let buildCli;
  try {
    ({ buildCli } = await import('../scripts/build-cli.js'));
    await import('esbuild');
  } catch {
    process.stderr.write(
      `account-auditor: the command line's bundle is out of date (${stale}) and esbuild, which builds it, is not installed: run \`npm run build\` where the devDependencies are (\`npm ci\`)\n`,
    );
    process.exit(2);
  }
  if (process.stderr.isTTY) process.stderr.write(`account-auditor: rebuilding dist/cli (${stale})…\n`);
  try {
    await buildCli();
  } catch {
    // esbuild has printed what it could not build.
    process.stderr.write('account-auditor: could not rebuild dist/cli from the sources (see above)\n');
    process.exit(2);
  }
}

// The SDK warns on every run under Node 20 that its 2027 releases will need Node 22; the lockfile
// pins today's SDK, so the warning is noise among findings. A value set by the user wins.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
// A reader that stops early (`account-auditor checks | head -1`) closes the pipe: that ends the
// output, not the command with a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}
const { main } = await import(pathToFileURL(BUNDLE).href);
process.exitCode = await main(process.argv);
