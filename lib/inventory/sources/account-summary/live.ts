import { GetAccountSummaryCommand, IAMClient } from '@aws-sdk/client-iam';
import { failure } from '../../calls.ts';
import type { LiveContext } from '../../definition.ts';
import type { AccountSummary, Source } from '../../types.ts';
import { normalizeAccountSummary } from './normalize.ts';

export async function read(ctx: LiveContext): Promise<Source<AccountSummary>> {
  const call = 'iam:GetAccountSummary';
  const iam = ctx.client(IAMClient);
  try {
    const out = await ctx.budgeted(() => iam.send(new GetAccountSummaryCommand({}), ctx.http));
    return { state: 'read', data: normalizeAccountSummary(out, call) };
  } catch (error) {
    return failure(call, error);
  }
}
