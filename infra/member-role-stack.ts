import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Aws, BootstraplessSynthesizer, CfnOutput, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import { CfnStackSet } from 'aws-cdk-lib/aws-cloudformation';
import { AccountPrincipal, PolicyDocument, PolicyStatement, Role } from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { Construct } from 'constructs';
import { LIVE_READ_ACTIONS } from '#lib/inventory/registry.ts';
import { ACCOUNT_AUDIT_ROLE_NAME, type StackSetCallAs } from './organization-config.ts';

export interface MemberRoleStackProps extends StackProps {
  /** The role's fixed name: the per-account function assumes `arn:…:role/<this>` in every account. */
  memberRoleName: string;
  /** The security tooling account, where the OrganizationAuditStack and its function role live. */
  auditorAccountId: string;
  /** The per-account function's role name in that account (fixed by the OrganizationAuditStack). */
  auditRoleName?: string;
  /** Required by the trust, when given. */
  externalId?: string;
}

/** The role ARN the member roles trust, in the partition the member role is deployed in. */
export function auditRoleArn(auditorAccountId: string, auditRoleName: string = ACCOUNT_AUDIT_ROLE_NAME): string {
  return `arn:${Aws.PARTITION}:iam::${auditorAccountId}:role/${auditRoleName}`;
}

/**
 * The read-only role in one member account (SPEC 8): exactly the collector's read actions
 * (LIVE_READ_ACTIONS, the single-account role's list), assumable only by the per-account audit
 * function's role in the tooling account. Deployed to the members by MemberRoleStackSetStack and,
 * since StackSets skip the management account, as a plain stack there.
 *
 * No bootstrap: the template is deployed into accounts that were never bootstrapped for CDK.
 */
export class MemberRoleStack extends Stack {
  readonly role: Role;
  readonly trustedRoleArn: string;

  constructor(scope: Construct, id: string, props: MemberRoleStackProps) {
    super(scope, id, {
      description: 'account-auditor: the read-only member role the organization audit assumes',
      synthesizer: new BootstraplessSynthesizer(),
      ...props,
    });
    this.trustedRoleArn = auditRoleArn(props.auditorAccountId, props.auditRoleName);

    // The account principal plus aws:PrincipalArn: a role ARN as principal would break the trust
    // the day the tooling role is re-created (IAM stores its unique ID), the condition does not.
    const principal = new AccountPrincipal(props.auditorAccountId).withConditions({
      ArnEquals: { 'aws:PrincipalArn': this.trustedRoleArn },
      ...(props.externalId !== undefined ? { StringEquals: { 'sts:ExternalId': props.externalId } } : {}),
    });
    this.role = new Role(this, 'Role', {
      roleName: props.memberRoleName,
      assumedBy: principal,
      description: 'account-auditor: read-only audit of this account by the organization audit',
      inlinePolicies: {
        AccountAuditorRead: new PolicyDocument({
          statements: [
            new PolicyStatement({
              sid: 'AuditRead',
              actions: [...LIVE_READ_ACTIONS],
              // The account-level IAM reads take no resource; the list calls are authorized on "*".
              resources: ['*'],
            }),
          ],
        }),
      },
    });

    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Exactly the audit reads (lib/inventory/live.ts LIVE_READ_ACTIONS), the single-account role’s list: iam:GetAccountSummary, ' +
        'GenerateCredentialReport, GetCredentialReport and GetAccountAuthorizationDetails take no resource; iam:ListAccessKeys, ' +
        'elasticache:DescribeCacheClusters/DescribeReplicationGroups and dax:DescribeClusters list every user or cluster of this account.',
    });

    new CfnOutput(this, 'RoleArn', { value: this.role.roleArn });
  }
}

export interface MemberRoleStackSetStackProps extends StackProps {
  member: Omit<MemberRoleStackProps, keyof StackProps>;
  /** Deployment targets: the organization root (`r-…`) or OU IDs. */
  targets: string[];
  /** SELF from the management account, DELEGATED_ADMIN from a StackSets delegated administrator. */
  callAs: StackSetCallAs;
}

/** The StackSet's name, fixed: one per organization. */
export const MEMBER_ROLE_STACK_SET_NAME = 'account-auditor-member-role';

/**
 * The member role's template, synthesized on its own (a separate app, with cdk-nag) for the
 * StackSet to deploy: the same MemberRoleStack class as the management account's plain stack.
 */
export function memberRoleTemplate(props: MemberRoleStackSetStackProps['member']): Record<string, unknown> {
  // Its own folder: under the CDK CLI, CDK_OUTDIR names the main app's, which this must not touch.
  const outdir = mkdtempSync(join(tmpdir(), 'account-auditor-member-role-'));
  try {
    const app = new App({ outdir, analyticsReporting: false });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    const stack = new MemberRoleStack(app, 'MemberRole', props);
    return app.synth().getStackArtifact(stack.artifactId).template as Record<string, unknown>;
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/**
 * The service-managed StackSet that puts the member role in every account of the chosen root or
 * OUs, and in every account that joins them later (automatic deployment); an account that leaves
 * loses its role. Deployed in the management account (callAs SELF) or in a StackSets delegated
 * administrator (callAs DELEGATED_ADMIN).
 */
export class MemberRoleStackSetStack extends Stack {
  readonly stackSet: CfnStackSet;

  constructor(scope: Construct, id: string, props: MemberRoleStackSetStackProps) {
    // No bootstrap either: the management account needs no CDK bootstrap for the auditor.
    super(scope, id, {
      description: 'account-auditor: the StackSet deploying the member role to the organization',
      synthesizer: new BootstraplessSynthesizer(),
      ...props,
    });
    this.stackSet = new CfnStackSet(this, 'MemberRoles', {
      stackSetName: MEMBER_ROLE_STACK_SET_NAME,
      description: 'account-auditor: the read-only member role the organization audit assumes',
      permissionModel: 'SERVICE_MANAGED',
      autoDeployment: { enabled: true, retainStacksOnAccountRemoval: false },
      callAs: props.callAs,
      capabilities: ['CAPABILITY_NAMED_IAM'],
      templateBody: JSON.stringify(memberRoleTemplate(props.member)),
      // IAM is global: one region holds the role for the whole account.
      stackInstancesGroup: [{ regions: [this.region], deploymentTargets: { organizationalUnitIds: props.targets } }],
      // All accounts at once, and one account's failure does not hold back the others: its
      // audit then ends in ERROR (no role to assume) and says so.
      operationPreferences: { maxConcurrentPercentage: 100, failureTolerancePercentage: 100, regionConcurrencyType: 'PARALLEL' },
      managedExecution: { Active: true },
    });
  }
}
