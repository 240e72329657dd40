/**
 * The management account's Organizations read role (OrganizationReadRoleStack), which the discover
 * step assumes through `managementRoleArn` when the tooling account is not a delegated administrator.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { createOrganizationApp } from '../../infra/auditor-app.ts';
import { DISCOVER_ROLE_NAME } from '../../infra/organization-config.ts';
import { ORGANIZATION_READ_ROLE_NAME } from '../../infra/organization-read-role-stack.ts';
import { ORGANIZATIONS_READ_ACTIONS } from '../../infra/organization-stack.ts';

/** CloudFormation JSON is untyped by nature. */
type Json = any;

const SLOW = 180_000;
const AUDITOR = '999999999999';
const MANAGEMENT = '111111111111';
const dirs: string[] = [];

afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function synth(context: Record<string, unknown> = {}) {
  const outdir = await mkdtemp(join(tmpdir(), 'auditor-org-read-'));
  dirs.push(outdir);
  return createOrganizationApp({
    outdir,
    context: { 'aws:cdk:bundling-stacks': [], auditorAccountId: AUDITOR, memberRoleOus: 'r-ab12', ...context },
  }).stacks;
}

const partitionArn = (rest: string) => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, rest]] });

describe('the Organizations read role of the management account', () => {
  it(
    'holds exactly the discovery’s Organizations reads, trusted only by the discover function’s role',
    async () => {
      const stacks = await synth();
      const template = Template.fromStack(stacks.organizationRead).toJSON();
      const resources = Object.values(template.Resources) as Json[];
      expect(resources.map((r) => r.Type)).toEqual(['AWS::IAM::Role']);
      const role = resources[0].Properties;
      expect(role.RoleName).toBe(ORGANIZATION_READ_ROLE_NAME);
      expect(role.ManagedPolicyArns).toBeUndefined();
      const statements = role.Policies.flatMap((p: Json) => p.PolicyDocument.Statement);
      expect(statements).toEqual([{ Sid: 'OrganizationsRead', Effect: 'Allow', Action: [...ORGANIZATIONS_READ_ACTIONS], Resource: '*' }]);
      expect(ORGANIZATIONS_READ_ACTIONS.every((a) => a.startsWith('organizations:Describe') || a.startsWith('organizations:List'))).toBe(
        true,
      );
      expect(role.AssumeRolePolicyDocument.Statement).toEqual([
        {
          Effect: 'Allow',
          Action: 'sts:AssumeRole',
          Principal: { AWS: partitionArn(`:iam::${AUDITOR}:root`) },
          Condition: { ArnEquals: { 'aws:PrincipalArn': partitionArn(`:iam::${AUDITOR}:role/${DISCOVER_ROLE_NAME}`) } },
        },
      ]);
      // No bootstrap: the management account is never bootstrapped for the auditor.
      expect(template.Parameters ?? {}).toEqual({});
      expect(template.Rules ?? {}).toEqual({});
    },
    SLOW,
  );

  it(
    'is the role the discover function may assume when managementRoleArn names it',
    async () => {
      const arn = `arn:aws:iam::${MANAGEMENT}:role/${ORGANIZATION_READ_ROLE_NAME}`;
      const stacks = await synth({ managementRoleArn: arn });
      const audit = Template.fromStack(stacks.audit).toJSON();
      const discover = Object.values(audit.Resources).find((r: Json) => r.Properties?.RoleName === DISCOVER_ROLE_NAME) as Json;
      const statements = discover.Properties.Policies.flatMap((p: Json) => p.PolicyDocument.Statement);
      expect(statements).toContainEqual({ Sid: 'AssumeManagementRole', Effect: 'Allow', Action: 'sts:AssumeRole', Resource: arn });
      expect(JSON.stringify(statements)).not.toContain('organizations:');
    },
    SLOW,
  );
});
