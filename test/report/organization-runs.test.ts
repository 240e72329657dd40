import { describe, expect, it } from 'vitest';
import { renderOrganizationRuns } from '#lib/report/render.ts';
import type { OrganizationRunRecord } from '#lib/store/organization-runs.ts';

function record(failed: number, alert: OrganizationRunRecord['alert'], kept = failed): OrganizationRunRecord {
  const inError = Array.from({ length: kept }, (_, i) => ({
    id: String(200_000_000_000 + i),
    name: `a${i}`,
    state: 'failed' as const,
    runId: null,
    counts: null,
    reason: 'States.Timeout',
  }));
  return {
    organizationRunId: 'org-1',
    startedAt: '2026-11-02T03:00:00.000Z',
    summarizedAt: '2026-11-02T03:20:00.000Z',
    discovery: { listed: failed + 1, active: failed + 1, filteredOut: 0, missing: [] },
    accounts: failed + 1,
    complete: 1,
    incomplete: 0,
    failed,
    totals: { total: 0, PASS: 0, FAIL: 0, WARN: 0, ERROR: 0 },
    perAccount: inError,
    inError,
    alert,
    ...(kept < failed ? { inErrorOmitted: failed - kept } : {}),
  };
}

describe('renderOrganizationRuns', () => {
  it('names the first accounts in ERROR and counts the rest, those the record itself had to leave out included', () => {
    const out = renderOrganizationRuns([record(9, { mode: 'digest', wanted: true, messageId: 'm-1', reason: 'x' }, 7)], 220);
    expect(out).toContain('200000000000 (failed), 200000000001 (failed)');
    expect(out).toContain('and 4 more');
    expect(out).toContain('digest: published (m-1)');
  });

  it('a digest that was due and not published says so', () => {
    const out = renderOrganizationRuns(
      [record(1, { mode: 'digest', wanted: true, messageId: null, reason: 'the message could not be published: SNS down' })],
      220,
    );
    expect(out).toContain('digest: NOT published: the');
    expect(out).toContain('SNS down');
  });

  it('no run yet', () => {
    expect(renderOrganizationRuns([])).toBe('no organization runs stored yet');
  });
});
