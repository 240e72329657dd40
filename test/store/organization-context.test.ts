import { GetCommand, PutCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { GuardrailLevel, Source } from '#lib/inventory/types.ts';
import { guardrailsKey, type OrganizationContext } from '#lib/organization/contract.ts';
import { CONTEXT_SK, OrganizationContextStore, organizationRunPk } from '#lib/store/organization-context.ts';
import type { LocalStore } from '#lib/store/local.ts';
import { freshTable } from '#test/dynalite.ts';

const RUN = '20261101T030000123Z-nightly';
const NOW = Date.parse('2026-11-01T03:00:00Z');
const CONTEXT: OrganizationContext = {
  organizationRunId: RUN,
  organizationId: 'o-abcdefghij',
  managementAccountId: '111111111111',
  accountIds: ['111111111111', '222222222222', '333333333333'],
};
const CHAIN: Source<GuardrailLevel[]> = {
  state: 'read',
  data: [
    {
      kind: 'root',
      target: 'r-ab12',
      policies: [
        {
          id: 'p-FullAWSAccess',
          name: 'FullAWSAccess',
          arn: 'arn:aws:organizations::aws:policy/service_control_policy/p-FullAWSAccess',
          awsManaged: true,
          target: 'r-ab12',
          document: { ok: true, document: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] } },
        },
      ],
    },
    {
      kind: 'ou',
      target: 'ou-ab12-cd34ef56',
      policies: [
        {
          id: 'p-deny-iam',
          name: 'DenyIam',
          arn: 'arn:aws:organizations::111111111111:policy/o-abcdefghij/service_control_policy/p-deny-iam',
          awsManaged: false,
          target: 'ou-ab12-cd34ef56',
          document: { ok: true, document: { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 'iam:*', Resource: '*' }] } },
        },
      ],
    },
    { kind: 'account', target: '222222222222', policies: [] },
  ],
};
const KEY = guardrailsKey(CHAIN);

let table: LocalStore;
let store: OrganizationContextStore;
let doc: DynamoDBDocumentClient;

beforeEach(async () => {
  table = await freshTable();
  store = new OrganizationContextStore({ client: table.client, tableName: table.tableName, historyTtlDays: 30, now: () => NOW });
  doc = DynamoDBDocumentClient.from(table.client);
});

afterEach(async () => {
  await table.close();
});

describe('the organization context store', () => {
  it('round trip: CONTEXT and a chain item written by discover are what an account reads', async () => {
    await store.writeContext(CONTEXT, new Map([[KEY, CHAIN]]));
    const member = await store.readMemberContext(RUN, KEY);
    expect(member).toEqual({
      organization: { id: 'o-abcdefghij', accountIds: CONTEXT.accountIds, guardrails: CHAIN },
      managementAccountId: '111111111111',
      problems: [],
    });
  });

  it('keys the items by run, with the history TTL', async () => {
    await store.writeContext(CONTEXT, new Map([[KEY, CHAIN]]));
    for (const sk of [CONTEXT_SK, KEY]) {
      const { Item } = await doc.send(new GetCommand({ TableName: table.tableName, Key: { PK: `ORGRUN#${RUN}`, SK: sk } }));
      expect(Item?.expiresAt).toBe(NOW / 1000 + 30 * 86_400);
    }
    expect(KEY).toMatch(/^GUARDRAILS#[0-9a-f]{16}$/);
  });

  it('null key: no SCP applies (the management account, or SCPs not enabled)', async () => {
    await store.writeContext(CONTEXT, new Map());
    expect((await store.readMemberContext(RUN, null)).organization.guardrails).toEqual({ state: 'read', data: [] });
  });

  it('a chain too large for an item is stored unread, naming its size', async () => {
    const big: Source<GuardrailLevel[]> = {
      state: 'read',
      data: [
        {
          kind: 'root',
          target: 'r-ab12',
          policies: [
            {
              ...(CHAIN as { data: GuardrailLevel[] }).data[0]!.policies[0]!,
              document: { ok: true, document: { Sid: 'x'.repeat(420_000) } },
            },
          ],
        },
      ],
    };
    const key = guardrailsKey(big);
    await store.writeContext(CONTEXT, new Map([[key, big]]));
    const { guardrails } = (await store.readMemberContext(RUN, key)).organization;
    expect(guardrails).toMatchObject({ state: 'unread', call: 'organizations:DescribePolicy' });
    expect((guardrails as { reason: string }).reason).toMatch(/KB of policy documents, over DynamoDB's 400 KB item/);
  });

  it('a missing CONTEXT item: guardrails unread naming the item, never "no SCP"', async () => {
    for (const key of [null, KEY]) {
      const member = await store.readMemberContext(RUN, key);
      expect(member.organization.guardrails.state).toBe('unread');
      expect((member.organization.guardrails as { reason: string }).reason).toContain(`item ${organizationRunPk(RUN)} CONTEXT`);
      expect(member.organization).toMatchObject({ id: null, accountIds: [] });
      expect(member.problems).toHaveLength(1);
    }
  });

  it('a damaged chain item (content not matching its key, not JSON, wrong shape): unread, naming why', async () => {
    await store.writeContext(CONTEXT, new Map([[KEY, CHAIN]]));
    const damage = async (chain: string) =>
      doc.send(
        new PutCommand({
          TableName: table.tableName,
          Item: { PK: organizationRunPk(RUN), SK: KEY, type: 'organization-guardrails', chain },
        }),
      );
    const reasonFor = async () => {
      const member = await store.readMemberContext(RUN, KEY);
      expect(member.organization.guardrails.state).toBe('unread');
      expect(member.problems).toHaveLength(1);
      return (member.organization.guardrails as { reason: string }).reason;
    };
    await damage(JSON.stringify({ state: 'read', data: [] }));
    expect(await reasonFor()).toMatch(/does not match its key/);
    await damage('{not json');
    expect(await reasonFor()).toMatch(/is not JSON/);
    await damage(JSON.stringify({ state: 'read', data: [{ kind: 'planet' }] }));
    expect(await reasonFor()).toMatch(/is damaged: data\.0\.kind/);
  });

  it('a damaged CONTEXT item, or a chain item missing: unread', async () => {
    await store.writeContext(CONTEXT, new Map([[KEY, CHAIN]]));
    expect((await store.readMemberContext(RUN, 'GUARDRAILS#0000000000000000')).organization.guardrails).toMatchObject({
      state: 'unread',
      reason: expect.stringMatching(/GUARDRAILS#0000000000000000 of .* does not exist/),
    });
    await doc.send(
      new PutCommand({
        TableName: table.tableName,
        Item: { PK: organizationRunPk(RUN), SK: CONTEXT_SK, type: 'organization-context', accountIds: 'all' },
      }),
    );
    const member = await store.readMemberContext(RUN, KEY);
    expect(member.organization.guardrails).toMatchObject({ state: 'unread', reason: expect.stringMatching(/CONTEXT of .* is damaged/) });
  });

  it('undefined key (the discovery named no chain): unread', async () => {
    await store.writeContext(CONTEXT, new Map());
    expect((await store.readMemberContext(RUN, undefined)).organization.guardrails).toMatchObject({
      state: 'unread',
      reason: expect.stringMatching(/named no guardrail chain/),
    });
  });

  it('a table that cannot be read: unread naming the failed call', async () => {
    const broken = new OrganizationContextStore({ client: table.client, tableName: 'no-such-table', historyTtlDays: 30 });
    const member = await broken.readMemberContext(RUN, KEY);
    expect(member.organization.guardrails).toMatchObject({ state: 'unread', reason: expect.stringMatching(/dynamodb:GetItem failed/) });
    await expect(broken.writeContext(CONTEXT, new Map())).rejects.toThrow(
      /could not write the organization context's CONTEXT item \(dynamodb:PutItem on no-such-table\)/,
    );
  });
});
