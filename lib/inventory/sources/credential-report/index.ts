import type { AccountDefinition } from '../../definition.ts';
import type { CredentialReport } from '../../types.ts';

export const REPORT_JSON = 'credential-report.json';
export const REPORT_CSV = 'credential-report.csv';
export const REPORT_JSON_COMMAND = 'aws iam get-credential-report';
export const REPORT_CSV_COMMAND = 'aws iam get-credential-report --query Content --output text | base64 --decode';

/** The IAM credential report: every user's password, MFA and access key facts, up to 4 hours old. */
export const credentialReport = {
  input: 'credentialReport',
  scope: 'account',
  label: 'credential report',
  permissions: ['iam:GenerateCredentialReport', 'iam:GetCredentialReport'] as const,
  call: 'iam:GetCredentialReport',
  file: REPORT_JSON,
  files: [
    {
      file: REPORT_JSON,
      command: REPORT_JSON_COMMAND,
      required: false,
      feeds: 'root-access-key, access-key-age (run aws iam generate-credential-report first, until COMPLETE)',
    },
    {
      file: REPORT_CSV,
      command: REPORT_CSV_COMMAND,
      required: false,
      feeds: 'instead of credential-report.json: the decoded CSV (its generation time is then unknown)',
    },
  ],
  live: () => import('./live.ts'),
  offline: () => import('./offline.ts'),
} satisfies AccountDefinition<'credentialReport'>;

declare module '../../types.ts' {
  interface AccountSources {
    credentialReport: CredentialReport;
  }
}
