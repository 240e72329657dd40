import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The direction of dependencies (docs/architecture.md): each stage imports only the stages
 * downstream of it. The stages of collection and evaluation (inventory, policy, checks) know
 * nothing of state, alerts, orchestration or shells, and nothing in lib/ builds bundles or infra.
 */
const ROOT = resolve(import.meta.dirname, '..');

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)));
}

/** Every module specifier a file imports: static, re-exported and dynamic, type-only included. */
function importsOf(source: string): string[] {
  const found = new Set<string>();
  for (const m of source.matchAll(/(?:^|[\s;])(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]/g)) found.add(m[1]!);
  for (const m of source.matchAll(/(?:^|[\s;])import\s*['"]([^'"]+)['"]/g)) found.add(m[1]!);
  for (const m of source.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)) found.add(m[1]!);
  return [...found];
}

/** The repository path an import names, or the package name for a dependency. */
function target(file: string, specifier: string): string {
  if (specifier.startsWith('#lib/')) return `lib/${specifier.slice('#lib/'.length)}`;
  if (specifier.startsWith('#test/')) return `test/support/${specifier.slice('#test/'.length)}`;
  if (specifier.startsWith('.')) return relative(ROOT, resolve(ROOT, dirname(file), specifier));
  return specifier;
}

function stageOf(path: string): string | null {
  const m = /^lib\/([^/.]+)/.exec(path);
  return m ? m[1]! : null;
}

const ABOVE_EVALUATION = ['store', 'reconcile', 'notify', 'audit', 'cli', 'lambda', 'report', 'export', 'securityhub'];

/** What each stage may not import, beyond the rules for all of lib/. */
const FORBIDDEN: Record<string, string[]> = {
  model: ['inventory', 'policy', 'checks', 'settings', ...ABOVE_EVALUATION],
  inventory: ['policy', 'checks', 'settings', ...ABOVE_EVALUATION],
  // Organization mode's collection: accounts, OUs and SCPs, as the inventory's sources are read.
  organization: ['policy', 'checks', 'settings', ...ABOVE_EVALUATION],
  policy: ['checks', 'settings', ...ABOVE_EVALUATION],
  checks: ABOVE_EVALUATION,
  reconcile: ['store', 'notify', 'audit', 'cli', 'lambda', 'report'],
  store: ['notify', 'audit', 'cli', 'lambda', 'report'],
  notify: ['audit', 'cli', 'lambda', 'report'],
  export: ['audit', 'cli', 'lambda', 'report'],
  securityhub: ['audit', 'cli', 'lambda', 'report'],
  audit: ['cli', 'lambda'],
  report: ['cli', 'lambda'],
};

/** Type-only imports the model may make: the check and source IDs are declared by their catalogues. */
const MODEL_TYPE_IMPORTS = new Set(['lib/checks/catalogue.ts', 'lib/inventory/types.ts']);

function violations(): string[] {
  const out: string[] = [];
  for (const file of sources('lib')) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const from = stageOf(file)!;
    for (const specifier of importsOf(text)) {
      const to = target(file, specifier);
      if (to === 'esbuild' || to.startsWith('esbuild/') || to.startsWith('infra/'))
        out.push(`${file} imports ${specifier}: lib/ does not build bundles or infrastructure`);
      const stage = stageOf(to);
      if (!stage || stage === from) continue;
      if (
        from === 'model' &&
        MODEL_TYPE_IMPORTS.has(to) &&
        new RegExp(`import type [^;]*['"]${specifier.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}['"]`).test(text)
      )
        continue;
      if (FORBIDDEN[from]?.includes(stage)) out.push(`${file} imports ${specifier}: ${from} is downstream of ${stage}`);
    }
  }
  return out;
}

describe('the direction of dependencies', () => {
  it('no stage imports one above it, and lib/ imports neither esbuild nor infra/', () => {
    expect(violations()).toEqual([]);
  });

  it('the scan sees every kind of import, so a violation cannot hide', () => {
    const text = [
      "import { a } from '#lib/store/store.ts';",
      "import type { B } from '../audit/run.ts';",
      "export { c } from '#lib/notify/alert.ts';",
      "const m = await import('#lib/cli/main.ts');",
      "import 'esbuild';",
      'import {\n  d,\n  e,\n} from "#lib/lambda/event.ts";',
    ].join('\n');
    expect(importsOf(text).sort()).toEqual(
      ['#lib/cli/main.ts', '#lib/lambda/event.ts', '#lib/notify/alert.ts', '#lib/store/store.ts', '../audit/run.ts', 'esbuild'].sort(),
    );
  });
});
