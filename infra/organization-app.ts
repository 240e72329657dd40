import type { App } from 'aws-cdk-lib';
import { MemberRoleStack, MemberRoleStackSetStack } from './member-role-stack.ts';
import { ACCOUNT_AUDIT_ROLE_NAME, readMemberRoleConfig, readOrganizationSettings } from './organization-config.ts';
import { OrganizationReadRoleStack } from './organization-read-role-stack.ts';
import { OrganizationAuditStack } from './organization-stack.ts';

/** The stacks of organization mode, and the account each is deployed to. */
export const ORGANIZATION_STACK_IDS = {
  /** The security tooling account: the state machine, the functions, the table and the topic. */
  audit: 'AccountAuditorOrganization',
  /** The management account: the member role there (StackSets skip the management account). */
  managementRole: 'AccountAuditorMemberRole',
  /** The management account (stackSetCallAs SELF) or a StackSets delegated administrator. */
  stackSet: 'AccountAuditorMemberRoleStackSet',
  /**
   * The management account: the Organizations read role the discovery assumes (`managementRoleArn`),
   * unless the tooling account is a delegated administrator and discovers directly.
   */
  organizationRead: 'AccountAuditorOrganizationRead',
} as const;

export interface OrganizationStacks {
  audit: OrganizationAuditStack;
  managementRole: MemberRoleStack;
  stackSet: MemberRoleStackSetStack;
  organizationRead: OrganizationReadRoleStack;
}

/** Adds organization mode's three stacks to the app, from its context (infra/organization-config.ts). */
export function addOrganizationStacks(app: App): OrganizationStacks {
  const settings = readOrganizationSettings(app);
  const memberConfig = readMemberRoleConfig(app);
  const member = {
    memberRoleName: settings.memberRoleName,
    auditorAccountId: memberConfig.auditorAccountId,
    auditRoleName: ACCOUNT_AUDIT_ROLE_NAME,
    ...(settings.externalId !== undefined ? { externalId: settings.externalId } : {}),
  };
  return {
    audit: new OrganizationAuditStack(app, ORGANIZATION_STACK_IDS.audit, { settings }),
    managementRole: new MemberRoleStack(app, ORGANIZATION_STACK_IDS.managementRole, member),
    stackSet: new MemberRoleStackSetStack(app, ORGANIZATION_STACK_IDS.stackSet, {
      member,
      targets: memberConfig.targets,
      callAs: memberConfig.callAs,
    }),
    organizationRead: new OrganizationReadRoleStack(app, ORGANIZATION_STACK_IDS.organizationRead, {
      auditorAccountId: memberConfig.auditorAccountId,
    }),
  };
}
