import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { reconcile } from '#lib/reconcile/reconcile.ts';
import { findMute } from '#lib/reconcile/mutes.ts';
import type { ReconciledRun, StoredFinding } from '#lib/reconcile/types.ts';
import { ACCOUNT, auditResult, finding } from '#test/audit-result.ts';

const alice = `arn:aws:iam::${ACCOUNT}:user/alice`;
const bob = `arn:aws:iam::${ACCOUNT}:user/bob`;
const daxEu = `arn:aws:dax:eu-west-1:${ACCOUNT}:cache/catalog`;
const T1 = '2026-11-01T00:00:00.000Z';
const T2 = '2026-11-02T00:00:00.000Z';
const T3 = '2026-11-03T00:00:00.000Z';

/** What a store holds after a run: the reconciled states by finding id. */
function stateAfter(run: ReconciledRun, before: Map<string, StoredFinding> = new Map()): Map<string, StoredFinding> {
  const next = new Map(before);
  for (const r of run.findings) next.set(r.state.id, r.state);
  return next;
}

const changeOf = (run: ReconciledRun, resource: string) => run.findings.find((r) => r.state.resource === resource)?.change;

describe('reconcile', () => {
  it('first run: non-PASS findings are new, PASS ones unchanged; first/last seen set', () => {
    const run = reconcile(
      auditResult([finding('user-full-access', alice, 'FAIL', 'critical'), finding('user-full-access', bob, 'PASS')], { at: T1 }),
      new Map(),
      [],
    );
    expect(changeOf(run, alice)).toBe('new');
    expect(changeOf(run, bob)).toBe('unchanged');
    expect(run.run.counts).toMatchObject({ new: 1, resolved: 0, open: 1, regressed: 0 });
    expect(run.findings[0]!.state).toMatchObject({ firstSeen: T1, lastSeen: T1, lastChanged: T1, resolvedAt: null, runId: `run-${T1}` });
  });

  it('new, then resolved, then regressed across three runs', () => {
    const r1 = reconcile(auditResult([finding('user-full-access', alice, 'FAIL')], { at: T1 }), new Map(), []);
    const s1 = stateAfter(r1);
    const r2 = reconcile(auditResult([finding('user-full-access', alice, 'PASS')], { at: T2 }), s1, []);
    expect(changeOf(r2, alice)).toBe('resolved');
    expect(r2.findings[0]!.state).toMatchObject({ status: 'PASS', resolvedAt: T2, lastChanged: T2, firstSeen: T1 });
    expect(r2.run.counts).toMatchObject({ resolved: 1, open: 0 });
    const s2 = stateAfter(r2, s1);
    const r3 = reconcile(auditResult([finding('user-full-access', alice, 'FAIL')], { at: T3 }), s2, []);
    expect(changeOf(r3, alice)).toBe('regressed');
    expect(r3.findings[0]).toMatchObject({ previousStatus: 'PASS', state: { resolvedAt: null, lastChanged: T3, firstSeen: T1 } });
    expect(r3.run.counts).toMatchObject({ regressed: 1, new: 0, open: 1 });
  });

  it('still open keeps lastChanged; WARN to FAIL is a regression (a key crossed the limit)', () => {
    const key = `${alice}#access_key_1`;
    const s1 = stateAfter(
      reconcile(
        auditResult([finding('access-key-age', key, 'WARN', 'low'), finding('user-full-access', alice, 'FAIL')], { at: T1 }),
        new Map(),
        [],
      ),
    );
    const r2 = reconcile(
      auditResult([finding('access-key-age', key, 'FAIL', 'medium'), finding('user-full-access', alice, 'FAIL')], { at: T2 }),
      s1,
      [],
    );
    expect(changeOf(r2, key)).toBe('regressed');
    expect(changeOf(r2, alice)).toBe('open');
    expect(r2.findings.find((r) => r.state.resource === alice)!.state.lastChanged).toBe(T1);
  });

  it('a finding absent from a complete run is resolved (a deleted key), and stays resolved without churn', () => {
    const key = `${alice}#access_key_1`;
    const s1 = stateAfter(reconcile(auditResult([finding('access-key-age', key, 'FAIL', 'medium')], { at: T1 }), new Map(), []));
    const r2 = reconcile(auditResult([], { at: T2 }), s1, []);
    expect(changeOf(r2, key)).toBe('resolved');
    expect(r2.findings[0]!.state).toMatchObject({ status: 'FAIL', resolvedAt: T2, lastSeen: T1 });
    const r3 = reconcile(auditResult([], { at: T3 }), stateAfter(r2, s1), []);
    expect(r3.findings).toEqual([]);
  });

  it('a check that ended in ERROR resolves nothing', () => {
    const s1 = stateAfter(reconcile(auditResult([finding('user-full-access', alice, 'FAIL')], { at: T1 }), new Map(), []));
    const errorOnly = finding('user-full-access', `arn:aws:iam::${ACCOUNT}:user/*`, 'ERROR');
    const r2 = reconcile(auditResult([errorOnly], { at: T2 }), s1, []);
    expect(changeOf(r2, alice)).toBeUndefined();
    expect(r2.run.counts.resolved).toBe(0);
    expect(r2.run.counts.open).toBe(2); // alice still open, plus the ERROR
  });

  it('a check not selected in this run, or a region not audited, resolves nothing', () => {
    const s1 = stateAfter(
      reconcile(
        auditResult([finding('user-full-access', alice, 'FAIL'), finding('dax-service-role', daxEu, 'FAIL')], {
          at: T1,
          regions: ['us-east-1', 'eu-west-1'],
        }),
        new Map(),
        [],
      ),
    );
    const r2 = reconcile(auditResult([], { at: T2, checks: ['root-access-key', 'dax-service-role'], regions: ['us-east-1'] }), s1, []);
    expect(r2.findings).toEqual([]);
    expect(r2.run.counts).toMatchObject({ resolved: 0, open: 2 });
  });

  it('muted findings carry the mute; an expired mute stops muting', () => {
    const mutes = [
      { check: 'user-full-access', resource: `arn:aws:iam::${ACCOUNT}:user/break-glass-*`, reason: 'sealed break-glass users' },
      { check: 'user-full-access', resource: alice, reason: 'migration', expires: '2026-11-02' },
    ];
    const glass = `arn:aws:iam::${ACCOUNT}:user/break-glass-1`;
    const r1 = reconcile(
      auditResult([finding('user-full-access', glass, 'FAIL'), finding('user-full-access', alice, 'FAIL')], { at: T1 }),
      new Map(),
      mutes,
    );
    expect(r1.findings.map((r) => r.state.mute?.reason)).toEqual(['sealed break-glass users', 'migration']);
    expect(r1.run.counts.muted).toBe(2);
    const r2 = reconcile(
      auditResult([finding('user-full-access', glass, 'FAIL'), finding('user-full-access', alice, 'FAIL')], { at: T2 }),
      stateAfter(r1),
      mutes,
    );
    expect(r2.findings.find((r) => r.state.resource === alice)!.state.mute).toBeNull();
    expect(r2.run.counts.muted).toBe(1);
  });
});

describe('mutes and stale runs across nights', () => {
  it('a finding first seen muted alerts again (regressed) on the night its mute expires', () => {
    const mutes = [{ check: 'user-full-access', resource: alice, reason: 'migration', expires: '2026-11-02' }];
    const r1 = reconcile(auditResult([finding('user-full-access', alice, 'FAIL', 'critical')], { at: T1 }), new Map(), mutes);
    expect(r1.findings[0]!.state.mute).not.toBeNull();
    const r2 = reconcile(auditResult([finding('user-full-access', alice, 'FAIL', 'critical')], { at: T2 }), stateAfter(r1), mutes);
    expect(r2.findings[0]).toMatchObject({ change: 'regressed', state: { mute: null } });
    expect(r2.run.counts.regressed).toBe(1);
    // Still unmuted the night after: just open, not regressed again.
    const r3 = reconcile(
      auditResult([finding('user-full-access', alice, 'FAIL', 'critical')], { at: T3 }),
      stateAfter(r2, stateAfter(r1)),
      mutes,
    );
    expect(r3.findings[0]!.change).toBe('open');
  });

  it('an older run arriving after a newer one calls nothing new, resolved or regressed', () => {
    const s3 = stateAfter(
      reconcile(
        auditResult([finding('user-full-access', alice, 'PASS'), finding('user-full-access', bob, 'FAIL')], { at: T3 }),
        new Map(),
        [],
      ),
    );
    const stale = reconcile(auditResult([finding('user-full-access', alice, 'FAIL')], { at: T1 }), s3, []);
    expect(stale.findings.map((r) => r.change)).toEqual(['unchanged']);
    expect(stale.run.counts).toMatchObject({ new: 0, regressed: 0, resolved: 0 });
  });

  it('a compliant resource has no stored state: the scopes a newer run covered say it was seen later', () => {
    // A newer run (T3) covered user-full-access globally and DAX in eu-west-1 only, storing nothing for alice or the cluster.
    const observed = new Map([
      ['user-full-access', Date.parse(T3)],
      ['dax-service-role@eu-west-1', Date.parse(T3)],
    ]);
    const daxUs = `arn:aws:dax:us-east-1:${ACCOUNT}:cache/orders`;
    const older = auditResult(
      [finding('user-full-access', alice, 'FAIL'), finding('dax-service-role', daxEu, 'FAIL'), finding('dax-service-role', daxUs, 'FAIL')],
      {
        at: T1,
        regions: ['eu-west-1', 'us-east-1'],
      },
    );
    const stale = reconcile(older, new Map(), [], observed);
    expect(stale.findings.map((r) => [r.state.resource, r.change])).toEqual([
      [alice, 'unchanged'],
      [daxEu, 'unchanged'],
      [daxUs, 'new'], // a scope the newer run did not cover
    ]);
    // A stored finding resolved at T1 and not rewritten by the newer run (nothing to rewrite): the
    // older run that still saw it failing must not reopen it.
    const resolved = stateAfter(
      reconcile(
        auditResult([], { at: T2 }),
        stateAfter(reconcile(auditResult([finding('user-full-access', alice, 'FAIL')], { at: T1 }), new Map(), [])),
        [],
      ),
    );
    const late = reconcile(
      auditResult([finding('user-full-access', alice, 'FAIL')], { at: '2026-11-02T12:00:00.000Z' }),
      resolved,
      [],
      observed,
    );
    expect(late.findings.map((r) => r.change)).toEqual(['unchanged']);
    // The same findings in a run newer than every observed scope are news.
    const newer = reconcile({ ...older, run: { ...older.run, collectedAt: '2026-11-05T00:00:00.000Z' } }, new Map(), [], observed);
    expect(newer.findings.map((r) => r.change)).toEqual(['new', 'new', 'new']);
  });
});

describe('findMute', () => {
  const f = { checkId: 'user-full-access' as const, resource: `arn:aws:iam::${ACCOUNT}:user/ci-deploy` };
  it('matches exactly or by an anchored glob, never by a substring', () => {
    const m = (check: string, resource: string) => findMute(f, [{ check, resource, reason: 'r' }], T1);
    expect(m('user-full-access', f.resource)).not.toBeNull();
    expect(m('user-*', `arn:aws:iam::${ACCOUNT}:user/ci-*`)).not.toBeNull();
    expect(m('user-full-access', 'user/ci-deploy')).toBeNull();
    expect(m('user-full-access', `arn:aws:iam::${ACCOUNT}:user/ci`)).toBeNull();
    // Regex metacharacters in a pattern are literal.
    expect(m('user-full-access', `arn:aws:iam::${ACCOUNT}:user/ci.deploy`)).toBeNull();
  });
  it('the glob agrees with a reference matcher on any pattern and value, in linear time', () => {
    const reference = (pattern: string, value: string) =>
      new RegExp(
        `^${pattern
          .split('*')
          .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
          .join('.*')}$`,
        's',
      ).test(value);
    const text = (max: number) => fc.string({ unit: fc.constantFrom('a', 'b', '*', '?', '.', ':'), maxLength: max });
    fc.assert(
      fc.property(text(8), text(10), (pattern, value) => {
        const resource = value.replaceAll('*', 'x');
        const muted =
          findMute({ checkId: 'user-full-access', resource }, [{ check: 'user-full-access', resource: pattern, reason: 'r' }], T1) !== null;
        expect(muted).toBe(reference(pattern, resource));
      }),
      { numRuns: 3000 },
    );
    // A regex of `.*` runs backtracks for ever on this; the segment matcher answers at once.
    const started = performance.now();
    const slow = findMute(
      { checkId: 'user-full-access', resource: 'a'.repeat(5000) },
      [{ check: '*', resource: `${'a*'.repeat(40)}b`, reason: 'r' }],
      T1,
    );
    expect(slow).toBeNull();
    expect(performance.now() - started).toBeLessThan(1000);
  });
  it('an expiry date ends the mute when that day starts (UTC)', () => {
    const mute = [{ check: '*', resource: '*', reason: 'r', expires: '2026-11-01' }];
    expect(findMute(f, mute, '2026-10-31T23:59:59.000Z')).not.toBeNull();
    expect(findMute(f, mute, T1)).toBeNull();
  });
});
