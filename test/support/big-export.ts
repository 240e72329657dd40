/**
 * Writes a generated account (test/support/aws.ts generateAccount) as an offline export
 * (`account-auditor files`): every user with an active over-age key, so each one is a FAIL.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { callerIdentityResponse, FIXTURE_NOW, generateAccount, type GeneratedAccount } from './aws.ts';

export async function writeFailingExport(
  dir: string,
  users: number,
  options: { now?: Date; overAgeKeyRatio?: number; seed?: number } = {},
): Promise<GeneratedAccount> {
  const now = options.now ?? FIXTURE_NOW;
  const account = generateAccount({ users, now, overAgeKeyRatio: options.overAgeKeyRatio ?? 1, seed: options.seed ?? 11 });
  await mkdir(dir, { recursive: true });
  const json = (file: string, value: unknown) => writeFile(join(dir, file), JSON.stringify(value));
  const report = account.credentialReport(new Date(now.getTime() - 60_000));
  await json('manifest.json', { collectedAt: now.toISOString() });
  await json('caller-identity.json', callerIdentityResponse(account.accountId));
  await json('account-summary.json', { SummaryMap: account.summary.SummaryMap });
  await json('credential-report.json', {
    Content: Buffer.from(report.Content!).toString('base64'),
    ReportFormat: report.ReportFormat,
    GeneratedTime: report.GeneratedTime!.toISOString(),
  });
  const { users: UserDetailList, groups: GroupDetailList, roles: RoleDetailList, policies: Policies } = account.entities;
  // As `aws iam get-account-authorization-details` writes it: the CLI pages through and merges.
  await writeFile(
    join(dir, 'account-authorization-details.json'),
    JSON.stringify({ UserDetailList, GroupDetailList, RoleDetailList, Policies, IsTruncated: false }),
  );
  return account;
}
