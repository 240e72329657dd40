/**
 * bin/account-auditor.js runs the bundle in dist/cli, and never a bundle older than its sources:
 * the tests that spawn the command line must run the code they are testing.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFile, utimes } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CHECKS } from '#lib/checks/catalogue.ts';

const BIN = fileURLToPath(new URL('../../bin/account-auditor.js', import.meta.url));
const SOURCES = new URL('../../dist/cli/sources.json', import.meta.url);
// A file the bundle depends on that no test imports, so touching it reruns nothing in watch mode.
const BUILD_SCRIPT = new URL('../../scripts/build-cli.js', import.meta.url);

const spawnCli = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000 });

describe('the command line as installed', () => {
  it('rebuilds a bundle that is older than a file it was built from, then runs it', async () => {
    const touched = new Date();
    await utimes(BUILD_SCRIPT, touched, touched);
    const out = spawnCli('checks');
    expect(out.stderr).toBe('');
    expect(out.stdout).toBe(CHECKS.map((c) => `${c.id} [${c.severity}]  ${c.title}\n`).join(''));
    expect(out.status).toBe(0);
    const sources = JSON.parse(await readFile(SOURCES, 'utf8')) as { builtAt: number; files: string[] };
    expect(sources.builtAt).toBeGreaterThanOrEqual(touched.getTime());
    expect(sources.files).toEqual(
      expect.arrayContaining(['lib/cli/main.ts', 'lib/checks/catalogue.ts', 'package.json', 'scripts/build-cli.js']),
    );
  }, 60_000);

  it('--version prints the version from the bundle', async () => {
    const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    const out = spawnCli('--version');
    expect({ status: out.status, stdout: out.stdout }).toEqual({ status: 0, stdout: `${pkg.version}\n` });
  });

  it('a reader that closes the pipe early (| head -1) ends the output quietly, exit 0', async () => {
    const child = spawn(process.execPath, [BIN, 'files'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((done) => child.on('close', done));
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  });
});
