import { BootstraplessSynthesizer, CfnOutput, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import { AccountPrincipal, PolicyDocument, PolicyStatement, Role } from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { auditRoleArn } from './member-role-stack.ts';
import { DISCOVER_ROLE_NAME } from './organization-config.ts';
import { ORGANIZATIONS_READ_ACTIONS } from './organization-stack.ts';

/** The management account role's fixed name: `managementRoleArn` names it. */
export const ORGANIZATION_READ_ROLE_NAME = 'AccountAuditorOrganizationRead';

export interface OrganizationReadRoleStackProps extends StackProps {
  /** The security tooling account, where the discover function's role lives. */
  auditorAccountId: string;
}

/**
 * The management account's read-only Organizations role that the discover step assumes when the
 * tooling account is not a delegated administrator (`managementRoleArn`). It holds exactly the
 * Organizations reads the discovery makes (ORGANIZATIONS_READ_ACTIONS, the list the discover
 * function gets in a delegated administrator) and is assumable only by the discover function's
 * role. Without bootstrap: the management account needs no CDK bootstrap for the auditor.
 */
export class OrganizationReadRoleStack extends Stack {
  readonly role: Role;
  readonly trustedRoleArn: string;

  constructor(scope: Construct, id: string, props: OrganizationReadRoleStackProps) {
    super(scope, id, {
      description: 'account-auditor: the read-only Organizations role the organization audit discovery assumes',
      synthesizer: new BootstraplessSynthesizer(),
      ...props,
    });
    this.trustedRoleArn = auditRoleArn(props.auditorAccountId, DISCOVER_ROLE_NAME);
    // As the member role: the account principal plus aws:PrincipalArn survives the discover role
    // being re-created, which a role principal (stored as its unique ID) does not.
    this.role = new Role(this, 'Role', {
      roleName: ORGANIZATION_READ_ROLE_NAME,
      assumedBy: new AccountPrincipal(props.auditorAccountId).withConditions({ ArnEquals: { 'aws:PrincipalArn': this.trustedRoleArn } }),
      description: 'account-auditor: lists the accounts and service control policies of the organization for the organization audit',
      inlinePolicies: {
        OrganizationsRead: new PolicyDocument({
          statements: [new PolicyStatement({ sid: 'OrganizationsRead', actions: [...ORGANIZATIONS_READ_ACTIONS], resources: ['*'] })],
        }),
      },
    });
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Organizations reads only (ORGANIZATIONS_READ_ACTIONS): ListAccounts, ListPolicies and DescribeOrganization take no resource, ' +
        'and the accounts, OUs and policies read change without a deploy.',
    });
    new CfnOutput(this, 'RoleArn', { value: this.role.roleArn, description: 'the managementRoleArn context value' });
  }
}
