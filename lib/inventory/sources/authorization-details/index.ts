import type { AccountDefinition } from '../../definition.ts';
import type { AuthorizationDetails } from '../../types.ts';

export const DETAILS_FILE = 'account-authorization-details.json';
export const DETAILS_COMMAND = 'aws iam get-account-authorization-details';
/** Any file named like a page; only NUMBERED_PAGE names are pages, the others are refused by name. */
export const DETAILS_PAGE = /^account-authorization-details-(.+)\.json$/;
export const NUMBERED_PAGE = /^account-authorization-details-(\d+)\.json$/;

/** `GetAccountAuthorizationDetails`: every user, group, role and managed policy, with their documents. */
export const authorizationDetails = {
  input: 'authorizationDetails',
  scope: 'account',
  label: 'authorization details',
  permissions: ['iam:GetAccountAuthorizationDetails'] as const,
  call: 'iam:GetAccountAuthorizationDetails',
  file: DETAILS_FILE,
  files: [
    {
      file: DETAILS_FILE,
      command: DETAILS_COMMAND,
      required: false,
      feeds: 'user-full-access, elasticache-service-linked-role, dax-service-role',
    },
    {
      file: 'account-authorization-details-<N>.json',
      command: 'aws iam get-account-authorization-details --max-items 1000 [--starting-token <NextToken>]',
      required: false,
      feeds: 'instead of account-authorization-details.json: pages -1, -2, ... -N without a gap, each but the last with its NextToken',
    },
  ],
  live: () => import('./live.ts'),
  offline: () => import('./offline.ts'),
} satisfies AccountDefinition<'authorizationDetails'>;

declare module '../../types.ts' {
  interface AccountSources {
    authorizationDetails: AuthorizationDetails;
  }
}
