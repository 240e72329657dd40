import { z } from 'zod';
import type {
  AttachedPolicyRef,
  AuthorizationDetails,
  InlinePolicy,
  ManagedPolicy,
  PermissionsBoundaryRef,
  PolicyDocument,
} from './types.ts';

/**
 * The shape of one `GetAccountAuthorizationDetails` page, as both the SDK and the AWS CLI return
 * it. They differ in two ways this schema absorbs: dates are `Date` objects in the SDK and strings
 * in the CLI's JSON, and policy documents are URL-encoded strings in the SDK but already-decoded
 * objects in the CLI's output.
 */
const dateLike = z.union([z.date(), z.string()]).optional().nullable();
const documentLike = z.union([z.string(), z.record(z.string(), z.unknown()), z.array(z.unknown())]).optional().nullable();

const inlineSchema = z.object({ PolicyName: z.string(), PolicyDocument: documentLike });
const attachedSchema = z.object({ PolicyName: z.string(), PolicyArn: z.string() });
const boundarySchema = z
  .object({ PermissionsBoundaryArn: z.string(), PermissionsBoundaryType: z.string().optional() })
  .optional()
  .nullable();

const pageSchema = z.object({
  UserDetailList: z
    .array(
      z.object({
        UserName: z.string(),
        Arn: z.string(),
        UserId: z.string().optional(),
        Path: z.string().optional(),
        CreateDate: dateLike,
        GroupList: z.array(z.string()).optional().nullable(),
        UserPolicyList: z.array(inlineSchema).optional().nullable(),
        AttachedManagedPolicies: z.array(attachedSchema).optional().nullable(),
        PermissionsBoundary: boundarySchema,
      }),
    )
    .optional()
    .nullable(),
  GroupDetailList: z
    .array(
      z.object({
        GroupName: z.string(),
        Arn: z.string(),
        GroupId: z.string().optional(),
        Path: z.string().optional(),
        GroupPolicyList: z.array(inlineSchema).optional().nullable(),
        AttachedManagedPolicies: z.array(attachedSchema).optional().nullable(),
      }),
    )
    .optional()
    .nullable(),
  RoleDetailList: z
    .array(
      z.object({
        RoleName: z.string(),
        Arn: z.string(),
        RoleId: z.string().optional(),
        Path: z.string().optional(),
        CreateDate: dateLike,
        AssumeRolePolicyDocument: documentLike,
        RolePolicyList: z.array(inlineSchema).optional().nullable(),
        AttachedManagedPolicies: z.array(attachedSchema).optional().nullable(),
        PermissionsBoundary: boundarySchema,
      }),
    )
    .optional()
    .nullable(),
  Policies: z
    .array(
      z.object({
        PolicyName: z.string(),
        Arn: z.string(),
        Path: z.string().optional(),
        DefaultVersionId: z.string().optional().nullable(),
        PolicyVersionList: z
          .array(
            z.object({
              Document: documentLike,
              VersionId: z.string().optional(),
              IsDefaultVersion: z.boolean().optional(),
            }),
          )
          .optional()
          .nullable(),
      }),
    )
    .optional()
    .nullable(),
  IsTruncated: z.boolean().optional().nullable(),
  Marker: z.string().optional().nullable(),
});

export type AuthorizationDetailsPage = z.input<typeof pageSchema>;

export class AuthorizationDetailsFormatError extends Error {
  override name = 'AuthorizationDetailsFormatError';
}

/**
 * Decodes one policy document: URL-decoded then JSON-parsed when it is a string (SDK), taken as
 * it is when it is already an object (CLI). Failures are kept, not thrown, so one bad document
 * makes ERROR for the principals it reaches and nothing else.
 */
export function decodePolicyDocument(raw: unknown): PolicyDocument {
  if (raw === undefined || raw === null) return { ok: false, error: 'the policy document is missing' };
  if (typeof raw !== 'string') return { ok: true, document: raw };
  let text: string;
  try {
    text = decodeURIComponent(raw);
  } catch {
    return { ok: false, error: 'the policy document is not valid URL-encoded text' };
  }
  try {
    return { ok: true, document: JSON.parse(text) as unknown };
  } catch (error) {
    return { ok: false, error: `the policy document is not valid JSON (${(error as Error).message})` };
  }
}

function isoDate(value: Date | string | null | undefined): string | null {
  if (value === undefined || value === null) return null;
  const time = value instanceof Date ? value.getTime() : Date.parse(value);
  return Number.isNaN(time) ? null : new Date(time).toISOString();
}

function inline(list: { PolicyName: string; PolicyDocument?: unknown }[] | null | undefined): InlinePolicy[] {
  return (list ?? []).map((p) => ({ name: p.PolicyName, document: decodePolicyDocument(p.PolicyDocument) }));
}

function attached(list: { PolicyName: string; PolicyArn: string }[] | null | undefined): AttachedPolicyRef[] {
  return (list ?? []).map((p) => ({ name: p.PolicyName, arn: p.PolicyArn }));
}

function boundary(b: { PermissionsBoundaryArn: string; PermissionsBoundaryType?: string | undefined } | null | undefined): PermissionsBoundaryRef | null {
  return b ? { arn: b.PermissionsBoundaryArn, type: b.PermissionsBoundaryType ?? 'Policy' } : null;
}

/** AWS managed policy ARNs have `aws` in the account field: arn:aws:iam::aws:policy/... */
function isAwsManaged(arn: string): boolean {
  return /^arn:[^:]+:iam::aws:policy\//.test(arn);
}

/**
 * Merges `GetAccountAuthorizationDetails` pages into one AuthorizationDetails, decoding every
 * inline, managed (default version only) and trust policy document.
 * @param where names the input in errors (a file name, or the API call).
 */
export function normalizeAuthorizationDetails(pages: unknown[], where = 'GetAccountAuthorizationDetails'): AuthorizationDetails {
  const result: AuthorizationDetails = { users: [], groups: [], roles: [], policies: {} };
  pages.forEach((raw, index) => {
    const parsed = pageSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const at = issue ? issue.path.join('.') : '';
      throw new AuthorizationDetailsFormatError(
        `${where}${pages.length > 1 ? ` page ${index + 1}` : ''}: ${at ? `${at}: ` : ''}${issue?.message ?? 'unexpected shape'}`,
      );
    }
    const page = parsed.data;
    for (const u of page.UserDetailList ?? []) {
      result.users.push({
        name: u.UserName,
        arn: u.Arn,
        id: u.UserId ?? '',
        path: u.Path ?? '/',
        createDate: isoDate(u.CreateDate),
        groups: u.GroupList ?? [],
        inlinePolicies: inline(u.UserPolicyList),
        attachedPolicies: attached(u.AttachedManagedPolicies),
        permissionsBoundary: boundary(u.PermissionsBoundary),
      });
    }
    for (const g of page.GroupDetailList ?? []) {
      result.groups.push({
        name: g.GroupName,
        arn: g.Arn,
        id: g.GroupId ?? '',
        path: g.Path ?? '/',
        inlinePolicies: inline(g.GroupPolicyList),
        attachedPolicies: attached(g.AttachedManagedPolicies),
      });
    }
    for (const r of page.RoleDetailList ?? []) {
      result.roles.push({
        name: r.RoleName,
        arn: r.Arn,
        id: r.RoleId ?? '',
        path: r.Path ?? '/',
        createDate: isoDate(r.CreateDate),
        trustPolicy: decodePolicyDocument(r.AssumeRolePolicyDocument),
        inlinePolicies: inline(r.RolePolicyList),
        attachedPolicies: attached(r.AttachedManagedPolicies),
        permissionsBoundary: boundary(r.PermissionsBoundary),
      });
    }
    for (const p of page.Policies ?? []) {
      const versions = p.PolicyVersionList ?? [];
      const defaultVersion =
        versions.find((v) => v.IsDefaultVersion === true) ??
        versions.find((v) => p.DefaultVersionId && v.VersionId === p.DefaultVersionId);
      const policy: ManagedPolicy = {
        name: p.PolicyName,
        arn: p.Arn,
        path: p.Path ?? '/',
        defaultVersionId: p.DefaultVersionId ?? defaultVersion?.VersionId ?? null,
        document: defaultVersion
          ? decodePolicyDocument(defaultVersion.Document)
          : { ok: false, error: 'the default policy version is not in the authorization details' },
        awsManaged: isAwsManaged(p.Arn),
      };
      result.policies[p.Arn] = policy;
    }
  });
  return result;
}
