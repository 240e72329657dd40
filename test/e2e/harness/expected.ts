import { expect } from 'vitest';
import { arnOf } from './seed.ts';

/**
 * SPEC section 3's verdicts for the seeded account (harness/seed.ts), one line per finding. A
 * severity is asserted only where SPEC fixes it. `resource` is exact, or a pattern where SPEC
 * leaves the account-level resource's name to the product.
 */
export interface Expected {
  checkId: string;
  resource: string | RegExp;
  status: 'PASS' | 'FAIL' | 'WARN' | 'ERROR';
  severity?: string;
  /** Why, in SPEC's terms. */
  because: string;
}

const key = (user: string, slot: 1 | 2) => `${arnOf.user(user)}#access_key_${slot}`;
const accountLevel = /^arn:aws:iam::123456789012:(role\/.*|root)$/;

export const NIGHT_1: Expected[] = [
  {
    checkId: 'root-access-key',
    resource: arnOf.root(),
    status: 'PASS',
    because: '3.1: GetAccountSummary (real time, it wins) shows no root key; no report row shows one',
  },
  { checkId: 'access-key-age', resource: key('alice', 1), status: 'PASS', because: '3.2: 0 days old' },
  { checkId: 'access-key-age', resource: key('bob', 1), status: 'FAIL', because: '3.2: 120 days > maxKeyAgeDays 90' },
  { checkId: 'access-key-age', resource: key('carol', 1), status: 'WARN', because: '3.2: 85 days >= warnKeyAgeDays 80' },
  // carol's access_key_2 is inactive: 3.2 does not age-check it, so it has no finding.
  {
    checkId: 'user-full-access',
    resource: arnOf.user('alice'),
    status: 'FAIL',
    severity: 'critical',
    because: '3.3: AdministratorAccess, every action on every resource',
  },
  { checkId: 'user-full-access', resource: arnOf.user('bob'), status: 'PASS', because: '3.3: s3 and CloudWatch reads through his group' },
  {
    checkId: 'user-full-access',
    resource: arnOf.user('carol'),
    status: 'FAIL',
    severity: 'high',
    because: '3.3: all actions except iam:*, organizations:*',
  },
  {
    checkId: 'user-full-access',
    resource: arnOf.user('dave'),
    status: 'PASS',
    because: '3.3: an unconditional Deny * removes what the admins group grants',
  },
  {
    checkId: 'user-full-access',
    resource: arnOf.user('erin'),
    status: 'FAIL',
    severity: 'high',
    because: '3.3: sts:AssumeRole on break-glass, an administrator role whose trust admits the account',
  },
  {
    checkId: 'elasticache-service-linked-role',
    resource: accountLevel,
    status: 'PASS',
    because: '3.4: a role exists under /aws-service-role/elasticache.amazonaws.com/',
  },
  {
    checkId: 'dax-service-role',
    resource: arnOf.dax('orders-dax'),
    status: 'PASS',
    because: '3.5: its role exists and trusts dax.amazonaws.com',
  },
  {
    checkId: 'dax-service-role',
    resource: arnOf.dax('legacy-dax'),
    status: 'FAIL',
    severity: 'high',
    because: '3.5: its IamRoleArn does not exist',
  },
  { checkId: 'dax-service-role', resource: accountLevel, status: 'PASS', because: '3.5: a role trusts dax.amazonaws.com' },
  // 3.6: one finding per role that is not service-linked (ElastiCache's has none).
  { checkId: 'role-full-access', resource: arnOf.role('dax-to-dynamodb'), status: 'PASS', because: '3.6: a role without full access' },
  {
    checkId: 'role-full-access',
    resource: arnOf.role('break-glass'),
    status: 'PASS',
    because: '3.6: an administrator role only principals of the account can assume',
  },
  {
    checkId: 'role-full-access',
    resource: arnOf.role('vendor-admin'),
    status: 'FAIL',
    severity: 'high',
    because: '3.6: an administrator role an outside account can assume, only under sts:ExternalId',
  },
];

/** After changeAccount: bob is an administrator, and his over-age key was replaced by a fresh one. */
export const NIGHT_2: Expected[] = NIGHT_1.map((e) => {
  if (e.checkId === 'user-full-access' && e.resource === arnOf.user('bob'))
    return { ...e, status: 'FAIL', severity: 'critical', because: '3.3: AdministratorAccess attached' };
  if (e.checkId === 'access-key-age' && e.resource === key('bob', 1))
    return { ...e, status: 'PASS', because: '3.2: the rotated key is 0 days old' };
  return e;
});

/** What night 2's alert must list: exactly these new and these resolved (SPEC 5). */
export const NIGHT_2_NEW = [{ checkId: 'user-full-access', resource: arnOf.user('bob') }];
export const NIGHT_2_RESOLVED = [{ checkId: 'access-key-age', resource: key('bob', 1) }];

export interface FindingLike {
  checkId: string;
  resource: string;
  status: string;
  severity: string;
}

/** SPEC 3.6's verdicts alone: one role-full-access finding per role that is not service-linked. */
export const SPEC_3_6_ROLES: Expected[] = NIGHT_1.filter((e) => e.checkId === 'role-full-access');

/** Every finding matches exactly one expectation and every expectation one finding. */
export function expectVerdicts(findings: FindingLike[], expected: Expected[]): void {
  const unmatched = [...findings];
  const problems: string[] = [];
  for (const e of expected) {
    const index = unmatched.findIndex(
      (f) => f.checkId === e.checkId && (typeof e.resource === 'string' ? f.resource === e.resource : e.resource.test(f.resource)),
    );
    if (index < 0) {
      problems.push(`missing: ${e.checkId} ${e.resource} ${e.status} (${e.because})`);
      continue;
    }
    const [f] = unmatched.splice(index, 1);
    if (f!.status !== e.status || (e.severity && f!.severity !== e.severity)) {
      problems.push(
        `${e.checkId} ${f!.resource}: ${f!.status} ${f!.severity}, SPEC says ${e.status}${e.severity ? ` ${e.severity}` : ''} (${e.because})`,
      );
    }
  }
  for (const f of unmatched) problems.push(`unexpected: ${f.checkId} ${f.resource} ${f.status} ${f.severity}`);
  expect(problems).toEqual([]);
}
