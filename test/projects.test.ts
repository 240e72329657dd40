/**
 * `unit` is the inner loop (npm run test:unit): every file in it must stay pure. A file that
 * reaches for a server, an SDK mock, a child process or a CDK synth belongs to another project
 * (vitest.config.ts), or `unit` slowly becomes the whole suite again.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { E2E, INFRA, INTEGRATION, PROPERTY } from '../vitest.config.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

/** What makes a test file not a unit test, by its imports. */
const NOT_UNIT = [
  'aws-sdk-client-mock',
  'node:child_process',
  'aws-cdk-lib',
  '#lib/store/local.ts',
  '#test/dynalite.ts',
  '#test/mock-aws.ts',
  '#test/sdk-boundary.ts',
  '#test/small-account.ts',
];

/** The glob forms vitest.config.ts uses: plain paths, `*` within a name, `**` across folders. */
function matcher(globs: readonly string[]): (file: string) => boolean {
  const patterns = globs.map(
    (glob) =>
      new RegExp(
        `^${glob
          .replace(/[.+^${}()|[\]\\]/g, '\\$&')
          .replace(/\*\*\//g, '(?:.*/)?')
          .replace(/\*/g, '[^/]*')}$`,
      ),
  );
  return (file) => patterns.some((pattern) => pattern.test(file));
}

async function testFiles(): Promise<string[]> {
  const entries = await readdir(join(ROOT, 'test'), { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.test.ts'))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)))
    .sort();
}

describe('vitest projects', () => {
  it('no unit test file imports a server, an SDK mock, a child process or the CDK', async () => {
    const elsewhere = matcher([...INTEGRATION, ...INFRA, ...PROPERTY, ...E2E]);
    const misplaced: string[] = [];
    for (const file of await testFiles()) {
      if (elsewhere(file)) continue;
      const source = await readFile(join(ROOT, file), 'utf8');
      const imports = [...source.matchAll(/from\s+'([^']+)'|import\(\s*'([^']+)'/g)].map((m) => m[1] ?? m[2]);
      const found = NOT_UNIT.filter((marker) => imports.includes(marker));
      if (found.length > 0) misplaced.push(`${file}: ${found.join(', ')}`);
    }
    expect(misplaced).toEqual([]);
  });

  it('every listed file exists, so a rename cannot move a test out of its project unnoticed', async () => {
    const files = await testFiles();
    for (const glob of [...INTEGRATION, ...INFRA, ...PROPERTY, ...E2E]) expect(files.some(matcher([glob])), glob).toBe(true);
  });
});
