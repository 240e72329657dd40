import type { Inventory, InventoryInput } from '#lib/inventory/types.ts';
import type { Finding, Severity } from '#lib/model/finding.ts';
import type { Settings } from '#lib/settings.ts';

/**
 * The checks, as data: what each is, what it reads, which severities its findings take, and where
 * its logic is. Importing the catalogue loads no check logic (`load` imports the check file on
 * demand), so settings, the command line and the docs read it cheaply. Adding a check is an entry
 * here and a file that exports `evaluate`: the compiler demands the file of every entry.
 */

export interface CheckReferences {
  /** CIS AWS Foundations Benchmark control numbers by benchmark version. */
  cis: Record<string, string>;
  securityHub: string[];
  awsConfig: string[];
  docs: string[];
}

/** A check: a pure function of the inventory and settings. */
export type Evaluate = (inventory: Inventory, settings: Settings) => Finding[];

interface Definition {
  title: string;
  /** The severity of the check's worst outcome. */
  severity: Severity;
  rationale: string;
  remediation: { text: string; command: string };
  references: CheckReferences;
  /** Every severity the check's findings can carry, its PASS (informational) included. */
  outcomes: readonly Severity[];
  /** The parts of the inventory the check reads; a source none of the selected checks reads cannot make a run incomplete. */
  inputs: readonly InventoryInput[];
  /** The check's logic, loaded on demand. */
  load: () => Promise<{ evaluate: Evaluate }>;
  /**
   * Organization mode only (SPEC 8): not selected when the settings name no checks, and it
   * produces nothing on an inventory that organization mode did not collect.
   */
  organizationOnly?: true;
}

/** In the order reports list the checks. */
export const CHECK_IDS = [
  'root-access-key',
  'access-key-age',
  'user-full-access',
  'elasticache-service-linked-role',
  'dax-service-role',
  'role-full-access',
  'organization',
] as const;

export type CheckId = (typeof CHECK_IDS)[number];

const DEFINITIONS: Record<CheckId, Definition> = {
  'root-access-key': {
    title: 'The root user has no access keys',
    severity: 'critical',
    rationale:
      'Root access keys have unrestricted power over the account and cannot be limited by IAM policies. ' +
      'CIS requires that none exist: delete them, do not just deactivate them.',
    remediation: {
      text: 'Sign in as the root user, open Security credentials, and delete every access key.',
      command: "aws iam delete-access-key --access-key-id <root-key-id>   # with the root user's own credentials",
    },
    references: {
      cis: { 'v1.4.0': '1.4', 'v3.0.0': '1.4', 'v5.0.0': '1.3' },
      securityHub: ['IAM.4'],
      awsConfig: ['iam-root-access-key-check'],
      docs: ['https://docs.aws.amazon.com/IAM/latest/UserGuide/id_root-user_manage_delete-key.html'],
    },
    outcomes: ['critical', 'high', 'informational'],
    inputs: ['accountSummary', 'credentialReport'],
    load: () => import('./iam/root-access-key.ts'),
  },
  'access-key-age': {
    title: 'Active access keys are rotated within the maximum age',
    severity: 'medium',
    rationale:
      'Long-lived access keys are the credentials most often leaked in code, logs and laptops. ' +
      'Rotating them bounds how long a leaked key stays useful.',
    remediation: {
      text: 'Create a new key, move its users to it, then deactivate and delete the old key.',
      command:
        'aws iam create-access-key --user-name <user> && aws iam update-access-key --user-name <user> --access-key-id <old-key-id> --status Inactive && aws iam delete-access-key --user-name <user> --access-key-id <old-key-id>',
    },
    references: {
      cis: { 'v1.4.0': '1.14', 'v3.0.0': '1.14', 'v5.0.0': '1.13' },
      securityHub: ['IAM.3'],
      awsConfig: ['access-keys-rotated'],
      docs: ['https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html#Using_RotateAccessKey'],
    },
    outcomes: ['medium', 'low', 'informational'],
    // The authorization details tell which users the report must list (SPEC 2.1).
    inputs: ['credentialReport', 'accessKeys', 'authorizationDetails'],
    load: () => import('./iam/access-key-age.ts'),
  },
  'user-full-access': {
    title: 'IAM users with full administrative access (*:*)',
    severity: 'critical',
    rationale:
      'A user allowed every action on every resource can read and change anything in the account, ' +
      "including its own and everyone else's permissions, and its long-lived credentials make it an attractive " +
      'target. Administrative access belongs to roles assumed for a task, with the least privilege the task needs. ' +
      'The verdict is about effective access, evaluated the way IAM evaluates: the union of the Allows, minus what ' +
      'the Denies cover, within the permissions boundary. Narrower forms (every action but a few, every action on some ' +
      'resources) are reported too, and so is a user one API call away from full access.',
    remediation: {
      text:
        'Remove the granting path named in the finding: detach the managed policy from the user ' +
        '(aws iam detach-user-policy), delete the inline policy (aws iam delete-user-policy), or remove the user ' +
        'from the group that carries it (aws iam remove-user-from-group). Give administrators a role to assume ' +
        'instead, and scope remaining policies to the actions and resources they need.',
      command: 'aws iam detach-user-policy --user-name <user> --policy-arn <policy-arn>',
    },
    references: {
      cis: { 'v1.4.0': '1.16', 'v3.0.0': '1.16', 'v5.0.0': '1.15' },
      securityHub: ['IAM.1'],
      awsConfig: ['iam-policy-no-statements-with-admin-access'],
      docs: [
        'https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html#grant-least-privilege',
        'https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html',
        'https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html',
        'https://docs.aws.amazon.com/securityhub/latest/userguide/iam-controls.html#iam-1',
        'https://docs.aws.amazon.com/config/latest/developerguide/iam-policy-no-statements-with-admin-access.html',
      ],
    },
    outcomes: ['critical', 'high', 'medium', 'low', 'informational'],
    inputs: ['authorizationDetails'],
    load: () => import('./iam/user-full-access.ts'),
  },
  'elasticache-service-linked-role': {
    title: 'The ElastiCache service-linked role exists',
    severity: 'high',
    rationale:
      'ElastiCache manages network interfaces and other resources for its clusters through the service-linked role ' +
      `AWSServiceRoleForElastiCache. Without it, and without iam:CreateServiceLinkedRole for whoever creates a cluster, cluster creation and maintenance fail.`,
    remediation: {
      text: 'Create the service-linked role (or grant iam:CreateServiceLinkedRole to the principals that create clusters).',
      command: 'aws iam create-service-linked-role --aws-service-name elasticache.amazonaws.com',
    },
    references: {
      cis: {},
      securityHub: [],
      awsConfig: [],
      docs: ['https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/using-service-linked-roles.html'],
    },
    outcomes: ['high', 'low', 'informational'],
    inputs: ['authorizationDetails', 'elastiCache'],
    load: () => import('./services/elasticache-service-linked-role.ts'),
  },
  'dax-service-role': {
    title: 'DAX clusters have a service role that trusts dax.amazonaws.com',
    severity: 'high',
    rationale:
      'A DAX cluster reaches DynamoDB by assuming its service role. If that role is deleted or stops trusting ' +
      `dax.amazonaws.com, the cluster can no longer read or write its tables.`,
    remediation: {
      text: 'Create a role that trusts dax.amazonaws.com with the DynamoDB permissions the cluster needs, and use it for the cluster.',
      command:
        'aws iam create-role --role-name DAXServiceRole --assume-role-policy-document \'{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"dax.amazonaws.com"},"Action":"sts:AssumeRole"}]}\'',
    },
    references: {
      cis: {},
      securityHub: [],
      awsConfig: [],
      docs: ['https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/DAX.create-cluster.console.create-service-role.html'],
    },
    outcomes: ['high', 'low', 'informational'],
    inputs: ['authorizationDetails', 'dax'],
    load: () => import('./services/dax-service-role.ts'),
  },
  'role-full-access': {
    title: 'IAM roles with full administrative access, and who can assume them',
    severity: 'critical',
    rationale:
      'Administrators should use roles, so a role with full access is an administrator, and whoever can assume it is one too. ' +
      'A role that another AWS account, anyone, or any identity of a web identity provider can assume gives away the account. ' +
      "The role's effective access is evaluated over its own policies and permissions boundary, the way IAM evaluates; its trust " +
      'policy is read with its conditions (sts:ExternalId, aws:PrincipalOrgID, aws:PrincipalAccount, aws:SourceAccount and ' +
      'aws:SourceArn, MFA, web identity audience and subject), and the users and roles of the account that can actually assume ' +
      'it are listed.',
    remediation: {
      text:
        'Restrict the trust policy to principals of the account or its organization (or list trusted accounts in trustedAccounts), ' +
        'require sts:ExternalId from third parties and audience and subject conditions from web identity providers, and scope ' +
        "the role's policies to what its task needs.",
      command: 'aws iam update-assume-role-policy --role-name <role> --policy-document file://trust-policy.json',
    },
    references: {
      cis: {},
      securityHub: [],
      awsConfig: [],
      docs: [
        'https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_terms-and-concepts.html',
        'https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html',
        'https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html',
        'https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_common-scenarios_third-party.html',
        'https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_create_oidc.html',
      ],
    },
    outcomes: ['critical', 'high', 'medium', 'low', 'informational'],
    inputs: ['authorizationDetails'],
    load: () => import('./iam/role-full-access.ts'),
  },
  organization: {
    title: 'The auditor could assume its member role in the account (organization mode only)',
    severity: 'high',
    rationale:
      'In organization mode every account is audited through one read-only member role. An account whose role cannot be ' +
      'assumed (the role is missing, its trust does not admit the auditor, a service control policy denies it, STS throttles ' +
      'or times out) is not audited at all: its findings are unknown, which must never read as compliant. Organization mode only: ' +
      'a single-account run neither selects this check nor gets a finding from it.',
    remediation: {
      text:
        'Deploy the member role to the account (the StackSet deploys it to new accounts of its OUs; the management account needs its own ' +
        'stack), make its trust admit the per-account function role by aws:PrincipalArn with the configured ExternalId, and lift any SCP ' +
        'that denies sts:AssumeRole on it.',
      command:
        'aws iam get-role --role-name AccountAuditorMemberRole --query Role.AssumeRolePolicyDocument   # in the member account, to check it exists and whom it trusts',
    },
    references: {
      cis: {},
      securityHub: [],
      awsConfig: [],
      docs: [
        'https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html',
        'https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_roles.html',
        'https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html',
      ],
    },
    outcomes: ['high', 'informational'],
    // The access comes with the organization context (inventory.organization.access), not from a source.
    inputs: [],
    load: () => import('./organization/member-access.ts'),
    organizationOnly: true,
  },
};

export interface CheckMetadata extends Omit<Definition, 'load'> {
  id: CheckId;
}

/** The checks a run selects when the settings name none: all but the organization-mode-only ones. */
export const DEFAULT_CHECK_IDS: readonly CheckId[] = CHECK_IDS.filter((id) => !DEFINITIONS[id].organizationOnly);

/** Every check's metadata by ID. */
export const CATALOGUE: Readonly<Record<CheckId, CheckMetadata>> = Object.fromEntries(
  CHECK_IDS.map((id) => {
    const { load: _load, ...metadata } = DEFINITIONS[id];
    return [id, { id, ...metadata }];
  }),
) as Record<CheckId, CheckMetadata>;

/** Every check's metadata, in report order. */
export const CHECKS: readonly CheckMetadata[] = CHECK_IDS.map((id) => CATALOGUE[id]);

export function loadEvaluate(id: CheckId): Promise<Evaluate> {
  return DEFINITIONS[id].load().then((m) => m.evaluate);
}

export function inputsOf(checks: readonly CheckId[]): Set<InventoryInput> {
  return new Set(checks.flatMap((c) => CATALOGUE[c].inputs));
}

/** The checks among `checks` that read this part of the inventory. */
export function checksReading(input: InventoryInput, checks: readonly CheckId[]): CheckId[] {
  return checks.filter((c) => CATALOGUE[c].inputs.includes(input));
}
