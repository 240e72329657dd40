import type { AccountDefinition } from '../../definition.ts';
import type { AccountSummary } from '../../types.ts';

export const SUMMARY_FILE = 'account-summary.json';
export const SUMMARY_COMMAND = 'aws iam get-account-summary';

/** `GetAccountSummary`: the real-time counters (root access keys, root MFA). */
export const accountSummary = {
  input: 'accountSummary',
  scope: 'account',
  label: 'account summary',
  permissions: ['iam:GetAccountSummary'] as const,
  call: 'iam:GetAccountSummary',
  file: SUMMARY_FILE,
  files: [{ file: SUMMARY_FILE, command: SUMMARY_COMMAND, required: false, feeds: 'root-access-key (real-time root key presence)' }],
  live: () => import('./live.ts'),
  offline: () => import('./offline.ts'),
} satisfies AccountDefinition<'accountSummary'>;

declare module '../../types.ts' {
  interface AccountSources {
    accountSummary: AccountSummary;
  }
}
