/**
 * The member role's credentials (lib/organization/member-credentials.ts): the real
 * fromTemporaryCredentials and STS client, answered by a request handler in the process (nothing
 * leaves it), with the clock of the refresh injected.
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { MapAccount } from '#lib/organization/contract.ts';
import {
  MEMBER_SESSION_SECONDS,
  memberCredentials,
  memberSessionName,
  REFRESH_BEFORE_MS,
  refreshing,
} from '#lib/organization/member-credentials.ts';

const ROLE = 'arn:aws:iam::222222222222:role/AccountAuditorMemberRole';
const RUN = '20261101T030000123Z-nightly-8f2e';
const T0 = Date.parse('2026-11-01T03:00:00Z');

/** STS answering AssumeRole: credentials numbered by call, expiring an hour after the clock's time. */
function fakeSts(clock: () => number, fail?: { code: string; message: string }) {
  const bodies: URLSearchParams[] = [];
  const handler = {
    handle: async (request: { body?: unknown }) => {
      bodies.push(new URLSearchParams(String(request.body)));
      const n = bodies.length;
      const xml = fail
        ? `<ErrorResponse><Error><Type>Sender</Type><Code>${fail.code}</Code><Message>${fail.message}</Message></Error><RequestId>r</RequestId></ErrorResponse>`
        : `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials>` +
          `<AccessKeyId>ASIA${n}</AccessKeyId><SecretAccessKey>secret${n}</SecretAccessKey><SessionToken>token${n}</SessionToken>` +
          `<Expiration>${new Date(clock() + MEMBER_SESSION_SECONDS * 1000).toISOString()}</Expiration></Credentials>` +
          `<AssumedRoleUser><AssumedRoleId>AROA:x</AssumedRoleId><Arn>${ROLE}</Arn></AssumedRoleUser></AssumeRoleResult>` +
          `<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></AssumeRoleResponse>`;
      return {
        response: { statusCode: fail ? 403 : 200, headers: { 'content-type': 'text/xml' }, body: Readable.from([Buffer.from(xml)]) },
      };
    },
  };
  return { bodies, handler };
}

const ACCOUNT: MapAccount = { id: '222222222222', name: 'payments', roleArn: ROLE, externalId: 'tooling-7f3a' };
const MASTER = { accessKeyId: 'AKIA', secretAccessKey: 'master' };

describe('memberCredentials', () => {
  it('assumes the map item’s role, the session naming the organization run, with its ExternalId, for an hour', async () => {
    let now = T0;
    const sts = fakeSts(() => now);
    const provider = memberCredentials(ACCOUNT, {
      organizationRunId: RUN,
      clientConfig: { region: 'eu-west-1', requestHandler: sts.handler as never },
      masterCredentials: MASTER,
      now: () => now,
    })!;
    const first = await provider();
    expect(first).toMatchObject({ accessKeyId: 'ASIA1', secretAccessKey: 'secret1', sessionToken: 'token1' });
    expect(sts.bodies).toHaveLength(1);
    const body = sts.bodies[0]!;
    expect(Object.fromEntries(body)).toMatchObject({
      Action: 'AssumeRole',
      RoleArn: ROLE,
      RoleSessionName: `account-auditor-${RUN}`,
      ExternalId: 'tooling-7f3a',
      DurationSeconds: '3600',
    });
    expect(memberSessionName(RUN)).toBe(`account-auditor-${RUN}`);
    expect(memberSessionName('x'.repeat(100))).toHaveLength(64);

    // Every client of the collection shares one session until it nears its expiry…
    now = T0 + 30 * 60_000;
    expect(await provider()).toBe(first);
    expect(sts.bodies).toHaveLength(1);
    // …then the role is assumed again, before the credentials lapse.
    now = T0 + MEMBER_SESSION_SECONDS * 1000 - REFRESH_BEFORE_MS;
    expect(await provider()).toMatchObject({ accessKeyId: 'ASIA2' });
    expect(sts.bodies).toHaveLength(2);
  });

  it('no ExternalId unless the account has one; null for the auditor’s own account', async () => {
    const sts = fakeSts(() => T0);
    const { externalId: _none, ...plain } = ACCOUNT;
    await memberCredentials(plain, {
      organizationRunId: RUN,
      clientConfig: { region: 'eu-west-1', requestHandler: sts.handler as never },
      masterCredentials: MASTER,
    })!();
    expect(sts.bodies[0]!.has('ExternalId')).toBe(false);
    expect(memberCredentials({ id: '999999999999', name: 'tooling', roleArn: null }, { organizationRunId: RUN })).toBeNull();
  });

  it('an AssumeRole refused rejects with STS’s error, and the next call tries again', async () => {
    const sts = fakeSts(() => T0, { code: 'AccessDenied', message: `not authorized to perform: sts:AssumeRole on resource: ${ROLE}` });
    const provider = memberCredentials(ACCOUNT, {
      organizationRunId: RUN,
      clientConfig: { region: 'eu-west-1', requestHandler: sts.handler as never, maxAttempts: 1 },
      masterCredentials: MASTER,
    })!;
    await expect(provider()).rejects.toMatchObject({ name: 'AccessDenied' });
    await expect(provider()).rejects.toMatchObject({ name: 'AccessDenied' });
    expect(sts.bodies).toHaveLength(2);
  });
});

describe('refreshing', () => {
  it('callers at once share one call; credentials without an expiry are kept', async () => {
    let calls = 0;
    const provider = refreshing(async () => {
      calls++;
      await new Promise((resolve) => setTimeout(resolve, 5));
      return { accessKeyId: `A${calls}`, secretAccessKey: 's' };
    });
    const [a, b] = await Promise.all([provider(), provider()]);
    expect(a).toBe(b);
    expect(await provider()).toBe(a);
    expect(calls).toBe(1);
  });
});
