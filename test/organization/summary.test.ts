import { describe, expect, it } from 'vitest';
import type { AccountOutcome, SummarizeInput } from '#lib/organization/contract.ts';
import {
  assertAudited,
  compactSummary,
  OrganizationRunError,
  RETURNED_IN_ERROR,
  summarizeOrganizationRun,
} from '#lib/organization/summary.ts';

const byStatus = (PASS: number, FAIL: number, WARN: number, ERROR: number) => ({ PASS, FAIL, WARN, ERROR });

function audited(id: string, complete: boolean, status: ReturnType<typeof byStatus>): AccountOutcome {
  const total = status.PASS + status.FAIL + status.WARN + status.ERROR;
  return {
    outcome: 'audited',
    account: { id, name: `name-${id}` },
    run: { runId: `run-${id}`, complete, counts: { total, byStatus: status, new: 1, open: 2 } },
  };
}

function failed(id: string, error: string, cause?: string): AccountOutcome {
  return { outcome: 'failed', account: { id, name: `name-${id}` }, error, ...(cause ? { cause } : {}) };
}

function input(accounts: unknown[]): SummarizeInput {
  return {
    organizationRunId: 'org-1',
    startedAt: '2026-11-01T03:00:00Z',
    discovery: {
      listed: accounts.length,
      active: accounts.length,
      filteredOut: 0,
      missing: [],
      calls: { 'organizations:ListAccounts': 1 },
    },
    accounts,
  };
}

describe('summarizeOrganizationRun', () => {
  it('counts per account, totals, and the accounts in ERROR (failed first, then incomplete, by ID)', () => {
    const summary = summarizeOrganizationRun(
      input([
        audited('444444444444', true, byStatus(10, 2, 1, 0)),
        audited('333333333333', false, byStatus(5, 0, 0, 2)),
        failed(
          '222222222222',
          'States.TaskFailed',
          '{"errorType":"AccessDenied","errorMessage":"not authorized to perform sts:AssumeRole"}',
        ),
        audited('111111111111', false, byStatus(1, 0, 0, 0)),
      ]),
    );
    expect(summary).toMatchObject({
      accounts: 4,
      complete: 1,
      incomplete: 2,
      failed: 1,
      totals: { total: 21, PASS: 16, FAIL: 2, WARN: 1, ERROR: 2 },
    });
    expect(summary.perAccount.map((l) => [l.id, l.state])).toEqual([
      ['444444444444', 'complete'],
      ['333333333333', 'incomplete'],
      ['222222222222', 'failed'],
      ['111111111111', 'incomplete'],
    ]);
    expect(summary.inError.map((l) => [l.id, l.reason])).toEqual([
      ['222222222222', 'States.TaskFailed: {"errorType":"AccessDenied","errorMessage":"not authorized to perform sts:AssumeRole"}'],
      ['111111111111', 'the run did not read every source'],
      ['333333333333', '2 findings in ERROR'],
    ]);
    expect(summary.perAccount[0]).toEqual({
      id: '444444444444',
      name: 'name-444444444444',
      state: 'complete',
      runId: 'run-444444444444',
      counts: { total: 13, PASS: 10, FAIL: 2, WARN: 1, ERROR: 0 },
      reason: null,
    });
  });

  it('an unreadable map result is a failed account, never a clean one', () => {
    const summary = summarizeOrganizationRun(
      input([{ outcome: 'audited', account: { id: '111111111111', name: 'a' }, run: { runId: 'x' } }, 'garbage']),
    );
    expect(summary.failed).toBe(2);
    expect(summary.inError.map((l) => l.id)).toEqual(['(item 1)', '111111111111']);
    expect(summary.inError[1]!.reason).toMatch(/^unreadable map result: /);
  });

  it('clips long causes', () => {
    const [line] = summarizeOrganizationRun(input([failed('111111111111', 'Sandbox.Timedout', 'x'.repeat(5000))])).perAccount;
    expect(line!.reason!.length).toBe(300);
  });

  it('the compact summary drops the per-account list and caps the accounts in ERROR', () => {
    const many = Array.from({ length: RETURNED_IN_ERROR + 7 }, (_, i) => failed(String(100_000_000_000 + i), 'States.Timeout'));
    const compact = compactSummary(summarizeOrganizationRun(input([...many, audited('999999999999', true, byStatus(1, 0, 0, 0))])));
    expect(compact).not.toHaveProperty('perAccount');
    expect(compact.inError).toHaveLength(RETURNED_IN_ERROR);
    expect(compact.moreInError).toBe(7);
    expect(compact.accounts).toBe(RETURNED_IN_ERROR + 8);
  });

  it('assertAudited: fails only when accounts ran and none was audited', () => {
    expect(() => assertAudited(summarizeOrganizationRun(input([failed('111111111111', 'States.Timeout')])))).toThrow(OrganizationRunError);
    expect(() =>
      assertAudited(summarizeOrganizationRun(input([failed('111111111111', 'States.Timeout'), audited('2', false, byStatus(0, 0, 0, 1))]))),
    ).not.toThrow();
    expect(() => assertAudited(summarizeOrganizationRun(input([])))).not.toThrow();
  });
});
