/**
 * A mocked Organizations service for the discovery's tests: an organization as data (accounts and
 * the tree below the root), served by ListAccounts and ListChildren with Organizations' paging
 * (at most MaxResults, 20, per page; NextToken until the end), and a record of every call.
 */
import {
  type Account,
  ListAccountsCommand,
  ListChildrenCommand,
  OrganizationsClient,
  ParentNotFoundException,
} from '@aws-sdk/client-organizations';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { vi } from 'vitest';

export const organizations = mockClient(OrganizationsClient);
export const sts = mockClient(STSClient);

export interface TestOrganization {
  accounts: Account[];
  /** Each parent's children: OU IDs and account IDs. */
  tree: Record<string, { ous?: string[]; accounts?: string[] }>;
}

/** Organizations' own page limit for ListAccounts and ListChildren. */
const SERVICE_MAX_RESULTS = 20;

function page<T>(items: readonly T[], token: string | undefined, maxResults: number | undefined): { items: T[]; next?: string } {
  const size = Math.min(maxResults ?? SERVICE_MAX_RESULTS, SERVICE_MAX_RESULTS);
  const start = token ? Number(token) : 0;
  const end = start + size;
  return { items: items.slice(start, end), ...(end < items.length ? { next: String(end) } : {}) };
}

export function account(id: string, fields: Partial<Account> = {}): Account {
  return {
    Id: id,
    Arn: `arn:aws:organizations::111111111111:account/o-abcdefghij/${id}`,
    Name: `account-${id}`,
    Email: `aws+${id}@example.com`,
    State: 'ACTIVE',
    Status: 'ACTIVE',
    ...fields,
  };
}

/** `n` ACTIVE accounts with IDs 200000000000, 200000000001, … */
export function manyAccounts(n: number): Account[] {
  return Array.from({ length: n }, (_, i) => account(String(200_000_000_000 + i)));
}

/**
 * Every request the mocked Organizations received, copied when received: the SDK's paginators
 * reuse one input object for all pages, so the mock's own record shows only the last token.
 */
export const requests: { command: string; input: Record<string, unknown> }[] = [];

export function serveOrganization(org: TestOrganization): void {
  organizations.on(ListAccountsCommand).callsFake(async (input: { NextToken?: string; MaxResults?: number }) => {
    requests.push({ command: 'ListAccounts', input: { ...input } });
    const p = page(org.accounts, input.NextToken, input.MaxResults);
    return { Accounts: p.items, ...(p.next ? { NextToken: p.next } : {}) };
  });
  organizations
    .on(ListChildrenCommand)
    .callsFake(async (input: { ParentId: string; ChildType: string; NextToken?: string; MaxResults?: number }) => {
      requests.push({ command: 'ListChildren', input: { ...input } });
      const node = org.tree[input.ParentId];
      if (!node)
        throw new ParentNotFoundException({
          message: `We can't find a root or OU with the ParentId that you specified.`,
          $metadata: { httpStatusCode: 400 },
        });
      const ids = input.ChildType === 'ORGANIZATIONAL_UNIT' ? (node.ous ?? []) : (node.accounts ?? []);
      const p = page(ids, input.NextToken, input.MaxResults);
      return { Children: p.items.map((Id) => ({ Id, Type: input.ChildType as 'ACCOUNT' })), ...(p.next ? { NextToken: p.next } : {}) };
    });
}

export const ASSUMED = {
  AccessKeyId: 'ASIAEXAMPLEEXAMPLE01',
  SecretAccessKey: 'secret',
  SessionToken: 'token',
  Expiration: new Date('2026-11-01T01:00:00Z'),
};

export function resetOrganizations(): void {
  organizations.reset();
  sts.reset();
  requests.length = 0;
  sts.on(AssumeRoleCommand).resolves({ Credentials: ASSUMED });
  vi.stubEnv('AWS_REGION', 'us-east-1');
  vi.stubEnv('AWS_PROFILE', undefined);
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIAIOSFODNN7EXAMPLE');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY');
  vi.stubEnv('AWS_CONFIG_FILE', '/nonexistent/account-auditor-test/config');
  vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', '/nonexistent/account-auditor-test/credentials');
}

/** The inputs of every served request of one command, in order. */
export function inputsOf(command: 'ListAccounts' | 'ListChildren'): Record<string, unknown>[] {
  return requests.filter((r) => r.command === command).map((r) => r.input);
}
