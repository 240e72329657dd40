import { describe, expect, it } from 'vitest';
import { evaluateChecks, exitCodeFor, runAudit } from '#lib/audit/run.ts';
import type { Check } from '#lib/checks/registry.ts';
import { rootAccessKey } from '#test/checks.ts';
import { activeKey, denied, inventory, reportRow, settings } from '#test/build-inventory.ts';

describe('evaluateChecks', () => {
  it('a check that throws becomes one ERROR finding and the other checks still run', () => {
    const broken: Check = {
      ...rootAccessKey,
      id: 'user-full-access',
      evaluate: () => {
        throw new Error('boom');
      },
    };
    const { findings, outcomes } = evaluateChecks(inventory(), settings(), [broken, rootAccessKey]);
    expect(findings.map((f) => [f.checkId, f.status])).toEqual([
      ['user-full-access', 'ERROR'],
      ['root-access-key', 'PASS'],
    ]);
    expect(findings[0]!.title).toContain('boom');
    expect(outcomes[0]!.errors).toHaveLength(1);
    expect(outcomes[1]!.errors).toHaveLength(0);
  });
});

describe('runAudit', () => {
  it('summarizes counts, selected checks and sources', async () => {
    const inv = inventory({
      summary: { keysPresent: 1 },
      rows: [
        reportRow('<root_account>', { access_key_1: activeKey('access_key_1', 300) }),
        reportRow('alice', { access_key_1: activeKey('access_key_1', 5) }),
      ],
    });
    const result = await runAudit({
      collect: async () => inv,
      settings: settings({ checks: ['root-access-key', 'access-key-age'] }),
      trigger: 'local',
    });
    expect(result.run.checks).toEqual(['root-access-key', 'access-key-age']);
    expect(result.run.counts.byStatus).toEqual({ FAIL: 2, ERROR: 0, WARN: 0, PASS: 1 });
    expect(result.run.counts.failBySeverity).toMatchObject({ critical: 1, medium: 1 });
    expect(result.run.complete).toBe(true);
    expect(result.run.runId).toMatch(/^\d{8}T\d{9}Z-[0-9a-f]{8}$/);
    expect(new Set(result.findings.map((f) => f.id)).size).toBe(result.findings.length);
  });

  it('an unread source a selected check reads makes the run incomplete even when no status depended on it', async () => {
    const inv = inventory({
      rows: [reportRow('<root_account>'), reportRow('alice', { access_key_1: activeKey('access_key_1', 200) })],
      accessKeys: { alice: denied('iam:ListAccessKeys') },
    });
    const result = await runAudit({ collect: async () => inv, settings: settings({ checks: ['access-key-age'] }), trigger: 'local' });
    expect(result.findings.every((f) => f.status !== 'ERROR')).toBe(true);
    expect(result.run.complete).toBe(false);
    expect(result.run.sources).toContainEqual(
      expect.objectContaining({ source: 'access keys of alice', state: 'unread', code: 'AccessDenied' }),
    );
    expect(exitCodeFor(result, 'high')).toBe(2);
  });

  it('a source no selected check reads does not make a narrowed run incomplete', async () => {
    const inv = inventory({ authorizationDetails: denied('iam:GetAccountAuthorizationDetails') });
    const narrowed = await runAudit({ collect: async () => inv, settings: settings({ checks: ['root-access-key'] }), trigger: 'local' });
    expect(narrowed.run.complete).toBe(true);
    expect(narrowed.run.sources.map((s) => s.source)).toEqual(['account summary', 'credential report']);
    expect(exitCodeFor(narrowed, 'high')).toBe(0);
    const full = await runAudit({ collect: async () => inv, settings: settings(), trigger: 'local' });
    expect(full.run.complete).toBe(false);
  });
});

describe('exitCodeFor', () => {
  const result = async (parts: Parameters<typeof inventory>[0]) =>
    runAudit({
      collect: async () => inventory(parts),
      settings: settings({ checks: ['root-access-key', 'access-key-age'] }),
      trigger: 'local',
    });

  it('0 when clean, 1 on a FAIL at or above the threshold, 0 below it', async () => {
    expect(exitCodeFor(await result({}), 'high')).toBe(0);
    const mediumFail = await result({
      rows: [reportRow('<root_account>'), reportRow('alice', { access_key_1: activeKey('access_key_1', 200) })],
    });
    expect(exitCodeFor(mediumFail, 'high')).toBe(0);
    expect(exitCodeFor(mediumFail, 'medium')).toBe(1);
    expect(exitCodeFor(mediumFail, 'low')).toBe(1);
  });

  it('2 on any ERROR, even with FAILs', async () => {
    const r = await result({ summary: { keysPresent: 1 }, report: denied('iam:GetCredentialReport') });
    expect(r.findings.map((f) => f.status).sort()).toEqual(['ERROR', 'FAIL']);
    expect(exitCodeFor(r, 'critical')).toBe(2);
  });
});

describe('settings', () => {
  it('the default warning age follows maxKeyAgeDays, from any source of settings', () => {
    expect(settings().warnKeyAgeDays).toBe(80);
    expect(settings({ maxKeyAgeDays: 60 }).warnKeyAgeDays).toBe(53);
    expect(settings({ maxKeyAgeDays: 60, warnKeyAgeDays: 30 }).warnKeyAgeDays).toBe(30);
    expect(() => settings({ maxKeyAgeDays: 60, warnKeyAgeDays: 70 })).toThrow(/warnKeyAgeDays must not exceed maxKeyAgeDays/);
  });
});
