/** The audited account, as every ARN names it. */
export interface Account {
  accountId: string;
  partition: string;
}

/** ARN helpers, partition-aware (aws, aws-cn, aws-us-gov). */
export function rootArn(account: Account): string {
  return `arn:${account.partition}:iam::${account.accountId}:root`;
}

export function allUsersArn(account: Account): string {
  return `arn:${account.partition}:iam::${account.accountId}:user/*`;
}

export function allRolesArn(account: Account): string {
  return `arn:${account.partition}:iam::${account.accountId}:role/*`;
}

/** Account ID and partition from any IAM ARN (`arn:aws:iam::123456789012:user/x`). */
export function accountFromArn(arn: string): Account | null {
  const match = /^arn:([^:]+):[^:]*:[^:]*:(\d{12}):/.exec(arn);
  return match ? { partition: match[1]!, accountId: match[2]! } : null;
}
