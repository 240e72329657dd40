/** The Lambda invocation context of the audit function, as the runtime passes it. */
import type { Context } from 'aws-lambda';
import { ACCOUNT } from './account.ts';

export function lambdaContext(region: string, fields: Partial<Context> = {}): Context {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'account-auditor',
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region}:${ACCOUNT}:function:account-auditor`,
    memoryLimitInMB: '512',
    awsRequestId: '6f1c3a52-2b2e-4a3d-9a3e-0c1d2e3f4a5b',
    logGroupName: '/aws/lambda/account-auditor',
    logStreamName: '2026/11/01/[$LATEST]0123456789abcdef',
    getRemainingTimeInMillis: () => 600_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
    ...fields,
  };
}
