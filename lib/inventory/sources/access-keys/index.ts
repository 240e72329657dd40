import type { UserDefinition } from '../../definition.ts';
import type { AccessKeyMetadata } from '../../types.ts';

export const ACCESS_KEYS_FOLDER = 'access-keys';
export const ACCESS_KEYS_COMMAND = 'aws iam list-access-keys --user-name <UserName>';

/**
 * `ListAccessKeys`, for the users whose report rows show an over-age key: their keys by ID, with
 * the real-time creation date. The users come from the credential report.
 */
export const accessKeys = {
  input: 'accessKeys',
  scope: 'user',
  label: 'access keys of',
  permissions: ['iam:ListAccessKeys'] as const,
  call: 'iam:ListAccessKeys',
  file: `${ACCESS_KEYS_FOLDER}/`,
  requires: ['credentialReport'],
  files: [
    {
      file: `${ACCESS_KEYS_FOLDER}/<UserName>.json`,
      command: ACCESS_KEYS_COMMAND,
      required: false,
      feeds: 'access-key-age (names over-age keys by ID, with their real-time creation date)',
    },
  ],
  live: () => import('./live.ts'),
  offline: () => import('./offline.ts'),
} satisfies UserDefinition<'accessKeys'>;

declare module '../../types.ts' {
  interface UserSources {
    /** `ListAccessKeys`, for the users whose report rows show an over-age key (at most `keyLookups.limit` of them). */
    accessKeys: AccessKeyMetadata[];
  }
}
