import {
  GetAccountAuthorizationDetailsCommand,
  type GetAccountAuthorizationDetailsResponse,
  IAMClient,
  paginateGetAccountAuthorizationDetails,
} from '@aws-sdk/client-iam';
import { budgetedPages, failure, ownInput } from '../../calls.ts';
import type { LiveContext } from '../../definition.ts';
import type { AuthorizationDetails, Source } from '../../types.ts';
import { normalizeAuthorizationDetails } from './normalize.ts';

/** IAM's largest page: the fewer pages, the fewer calls against the shared rate limit. */
export const AUTHORIZATION_DETAILS_PAGE_SIZE = 1000;

/** Every page must be read: a partial list of users or policies would pass users it never saw. */
export async function read(ctx: LiveContext): Promise<Source<AuthorizationDetails>> {
  const call = 'iam:GetAccountAuthorizationDetails';
  const iam = ctx.client(IAMClient);
  const pages: GetAccountAuthorizationDetailsResponse[] = [];
  const counts = { users: 0, groups: 0, roles: 0, policies: 0 };
  try {
    const paginator = paginateGetAccountAuthorizationDetails(
      { client: iam, withCommand: ownInput((input) => new GetAccountAuthorizationDetailsCommand(input)) },
      { MaxItems: AUTHORIZATION_DETAILS_PAGE_SIZE },
      ctx.http,
    );
    // IsTruncated, not the Marker alone, says whether more pages follow.
    for await (const out of budgetedPages(ctx, 'GetAccountAuthorizationDetails', paginator, (page) =>
      page.IsTruncated ? page.Marker : undefined,
    )) {
      pages.push(out);
      counts.users += out.UserDetailList?.length ?? 0;
      counts.groups += out.GroupDetailList?.length ?? 0;
      counts.roles += out.RoleDetailList?.length ?? 0;
      counts.policies += out.Policies?.length ?? 0;
      ctx.progress(
        `read IAM authorization details page ${pages.length} (${counts.users} users, ${counts.groups} groups, ${counts.roles} roles, ${counts.policies} policies so far)`,
      );
      if (out.IsTruncated && !out.Marker) throw new Error('GetAccountAuthorizationDetails said IsTruncated but returned no Marker');
      if (!out.IsTruncated) break;
    }
    return { state: 'read', data: normalizeAuthorizationDetails(pages, call, { notAfter: ctx.notAfter() }) };
  } catch (error) {
    return failure(call, error);
  }
}
