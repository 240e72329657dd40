import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CATALOGUE, CHECK_IDS, CHECKS } from '#lib/checks/catalogue.ts';
import { loadChecks } from '#lib/checks/registry.ts';
import { loadOffline } from '#lib/inventory/offline.ts';
import { severityRank } from '#lib/model/finding.ts';
import { parseSettings } from '#lib/settings.ts';

const examples = ['demo-account', 'demo-account-next'].map((d) => fileURLToPath(new URL(`../../examples/${d}`, import.meta.url)));

describe('the check catalogue', () => {
  it('lists every check once, in report order, with its metadata complete', () => {
    expect(CHECKS.map((c) => c.id)).toEqual([...CHECK_IDS]);
    expect(new Set(CHECK_IDS).size).toBe(CHECK_IDS.length);
    for (const c of CHECKS) {
      expect(c.title, c.id).not.toBe('');
      expect(c.rationale, c.id).not.toBe('');
      expect(c.remediation.text, c.id).not.toBe('');
      // The organization check reads the organization context, which is no source.
      if (!c.organizationOnly) expect(c.inputs.length, c.id).toBeGreaterThan(0);
      expect(c.references.docs.length + c.references.securityHub.length + Object.keys(c.references.cis).length, c.id).toBeGreaterThan(0);
    }
  });

  it("a check's severity is the worst of its outcomes, and its PASS is informational", () => {
    for (const c of CHECKS) {
      expect(c.outcomes, c.id).toContain(c.severity);
      expect(c.outcomes, c.id).toContain('informational');
      expect(Math.max(...c.outcomes.map(severityRank)), c.id).toBe(severityRank(c.severity));
    }
  });

  it('loads no check logic: the check files are imported on demand only', async () => {
    const source = await readFile(new URL('../../lib/checks/catalogue.ts', import.meta.url), 'utf8');
    const staticImports = [...source.matchAll(/^import\s+(?!type\b)[^;]*from\s*'([^']+)'/gm)].map((m) => m[1]);
    expect(staticImports).toEqual([]);
  });

  it('every entry loads a file exporting its evaluate', async () => {
    const checks = await loadChecks([...CHECK_IDS]);
    expect(checks.map((c) => c.id)).toEqual([...CHECK_IDS]);
    // With no checks named, a run selects all but the organization-mode-only ones.
    expect((await loadChecks()).map((c) => c.id)).toEqual(CHECK_IDS.filter((id) => !CATALOGUE[id].organizationOnly));
    for (const c of checks) expect(typeof c.evaluate, c.id).toBe('function');
    expect((await loadChecks(['dax-service-role', 'root-access-key'])).map((c) => c.id)).toEqual(['root-access-key', 'dax-service-role']);
  });

  it.each(examples)('on %s, every finding carries a severity its check declares', async (dir) => {
    const inventory = await loadOffline(dir);
    const settings = parseSettings({});
    let findings = 0;
    for (const check of await loadChecks()) {
      for (const f of check.evaluate(inventory, settings)) {
        findings += 1;
        expect(CATALOGUE[check.id].outcomes, `${f.id} ${f.status}`).toContain(f.severity);
        if (f.status === 'PASS') expect(f.severity, f.id).toBe('informational');
      }
    }
    expect(findings).toBeGreaterThan(10);
  });
});
