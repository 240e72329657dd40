import { z } from 'zod';
import { AuditorError } from '#lib/model/errors.ts';
import { canonical, dateProblem, differingFields } from '../../integrity.ts';
import type {
  AttachedPolicyRef,
  AuthorizationDetails,
  IamGroup,
  IamRole,
  IamUser,
  InlinePolicy,
  ManagedPolicy,
  PermissionsBoundaryRef,
  PolicyDocument,
} from '../../types.ts';

/**
 * The shape of one `GetAccountAuthorizationDetails` page, as both the SDK and the AWS CLI return
 * it. They differ in two ways this schema absorbs: dates are `Date` objects in the SDK and strings
 * in the CLI's JSON, and policy documents are URL-encoded strings in the SDK but already-decoded
 * objects in the CLI's output. IAM always returns the four lists and, on every entity, its name,
 * ARN, ID, path and (users, roles) creation date: a page without them is not read as "none".
 * Per-entity policy lists are omitted by IAM when empty, so their absence means empty.
 */
const dateLike = z.union([z.date(), z.string()]);
const documentLike = z
  .union([z.string(), z.record(z.string(), z.unknown()), z.array(z.unknown())])
  .optional()
  .nullable();

const inlineSchema = z.object({ PolicyName: z.string(), PolicyDocument: documentLike });
const attachedSchema = z.object({ PolicyName: z.string(), PolicyArn: z.string() });
const boundarySchema = z
  .object({ PermissionsBoundaryArn: z.string(), PermissionsBoundaryType: z.string().optional() })
  .optional()
  .nullable();

const pageSchema = z.object({
  UserDetailList: z.array(
    z.object({
      UserName: z.string(),
      Arn: z.string(),
      UserId: z.string(),
      Path: z.string(),
      CreateDate: dateLike,
      GroupList: z.array(z.string()).optional().nullable(),
      UserPolicyList: z.array(inlineSchema).optional().nullable(),
      AttachedManagedPolicies: z.array(attachedSchema).optional().nullable(),
      PermissionsBoundary: boundarySchema,
    }),
  ),
  GroupDetailList: z.array(
    z.object({
      GroupName: z.string(),
      Arn: z.string(),
      GroupId: z.string(),
      Path: z.string(),
      GroupPolicyList: z.array(inlineSchema).optional().nullable(),
      AttachedManagedPolicies: z.array(attachedSchema).optional().nullable(),
    }),
  ),
  RoleDetailList: z.array(
    z.object({
      RoleName: z.string(),
      Arn: z.string(),
      RoleId: z.string(),
      Path: z.string(),
      CreateDate: dateLike,
      AssumeRolePolicyDocument: documentLike,
      RolePolicyList: z.array(inlineSchema).optional().nullable(),
      AttachedManagedPolicies: z.array(attachedSchema).optional().nullable(),
      PermissionsBoundary: boundarySchema,
    }),
  ),
  Policies: z.array(
    z.object({
      PolicyName: z.string(),
      Arn: z.string(),
      Path: z.string(),
      DefaultVersionId: z.string(),
      PolicyVersionList: z.array(
        z.object({
          Document: documentLike,
          VersionId: z.string(),
          IsDefaultVersion: z.boolean(),
        }),
      ),
    }),
  ),
  IsTruncated: z.boolean().optional().nullable(),
  Marker: z.string().optional().nullable(),
});

/** The lists every page carries; a page without one of them was filtered (`--filter`) or cut. */
export const DETAIL_LISTS = ['UserDetailList', 'GroupDetailList', 'RoleDetailList', 'Policies'] as const;

export type AuthorizationDetailsPage = z.input<typeof pageSchema>;

export class AuthorizationDetailsFormatError extends AuditorError {
  override name = 'AuthorizationDetailsFormatError';
  /** The page (file, offline) the error is about, when it is about one. */
  constructor(
    message: string,
    readonly page?: string,
  ) {
    super(message);
  }
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

function inline(list: { PolicyName: string; PolicyDocument?: unknown }[] | null | undefined): InlinePolicy[] {
  return (list ?? []).map((p) => ({ name: p.PolicyName, document: decodePolicyDocument(p.PolicyDocument) }));
}

function attached(list: { PolicyName: string; PolicyArn: string }[] | null | undefined): AttachedPolicyRef[] {
  return (list ?? []).map((p) => ({ name: p.PolicyName, arn: p.PolicyArn }));
}

function boundary(
  b: { PermissionsBoundaryArn: string; PermissionsBoundaryType?: string | undefined } | null | undefined,
): PermissionsBoundaryRef | null {
  return b ? { arn: b.PermissionsBoundaryArn, type: b.PermissionsBoundaryType ?? 'Policy' } : null;
}

/** AWS managed policy ARNs have `aws` in the account field: arn:aws:iam::aws:policy/... */
function isAwsManaged(arn: string): boolean {
  return /^arn:[^:]+:iam::aws:policy\//.test(arn);
}

export interface NormalizeDetailsOptions {
  /** No creation date may be after this (epoch ms, from integrity.dateBound). */
  notAfter?: number;
  /** The name of each page in errors (offline: its file); otherwise `<where> page N`. */
  pageNames?: string[];
}

type Parsed = z.output<typeof pageSchema>;
type Kind = 'user' | 'group' | 'role';

/** Where an entry was found, for messages naming both entries of a disagreeing duplicate. */
interface Seen<T> {
  at: string;
  entry: T;
}

/**
 * Merges `GetAccountAuthorizationDetails` pages into one AuthorizationDetails, decoding every
 * inline, managed (default version only) and trust policy document.
 *
 * Integrity (SPEC 2.1): a page without one of the four lists, a field of the wrong type, a date
 * that is not ISO 8601 with a time zone or is after the audit time, and a user, group or role
 * listed twice with different content throw an AuthorizationDetailsFormatError naming the page,
 * the entry and the reason. A managed policy listed twice with different content, with two default
 * versions, or whose DefaultVersionId names another version than the one flagged default keeps
 * an error as its document instead: ERROR for the principals it reaches, and nothing else.
 * Exact repeats are merged.
 * @param where names the input in errors (a file name, or the API call).
 */
export function normalizeAuthorizationDetails(
  pages: unknown[],
  where = 'GetAccountAuthorizationDetails',
  options: NormalizeDetailsOptions = {},
): AuthorizationDetails {
  const pageName = (index: number): string => options.pageNames?.[index] ?? (pages.length > 1 ? `${where} page ${index + 1}` : where);
  const parsedPages: Parsed[] = pages.map((raw, index) => {
    const name = pageName(index);
    if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
      const missing = DETAIL_LISTS.filter((key) => !(key in raw) || (raw as Record<string, unknown>)[key] == null);
      if (missing.length > 0) {
        throw new AuthorizationDetailsFormatError(
          `${name}: has no ${missing.join(', ')}: every page of GetAccountAuthorizationDetails lists all four of ${DETAIL_LISTS.join(', ')} ` +
            '(an export made with --filter, or cut short, leaves the missing entities unaudited)',
          options.pageNames?.[index],
        );
      }
    }
    const parsed = pageSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const at = issue ? issue.path.join('.') : '';
      throw new AuthorizationDetailsFormatError(
        `${name}: ${at ? `${at}: ` : ''}${issue?.message ?? 'unexpected shape'}`,
        options.pageNames?.[index],
      );
    }
    return parsed.data;
  });

  const creationDate = (value: Date | string, index: number, entry: string): string => {
    const problem = dateProblem(value, options.notAfter);
    if (problem)
      throw new AuthorizationDetailsFormatError(`${pageName(index)}: ${entry}: CreateDate ${problem}`, options.pageNames?.[index]);
    return new Date(value instanceof Date ? value.getTime() : Date.parse(value)).toISOString();
  };

  const seen: Record<Kind, Map<string, Seen<IamUser | IamGroup | IamRole>>> = { user: new Map(), group: new Map(), role: new Map() };
  const result: AuthorizationDetails = { users: [], groups: [], roles: [], policies: {} };
  /** Adds an entity once; an exact repeat is merged, a different one under the same ARN or name is an error naming both. */
  const add = <T extends IamUser | IamGroup | IamRole>(kind: Kind, list: T[], entity: T, at: string, index: number): void => {
    const byKind = seen[kind];
    for (const identity of new Set([entity.arn, `name:${entity.name}`])) {
      const earlier = byKind.get(identity);
      if (!earlier) continue;
      if (canonical(earlier.entry) === canonical(entity)) return;
      const fields = differingFields(earlier.entry as unknown as Record<string, unknown>, entity as unknown as Record<string, unknown>);
      throw new AuthorizationDetailsFormatError(
        `${kind} ${entity.name} is listed twice with different content, at ${earlier.at} and at ${at} (they differ in ${fields.join(', ')}): ` +
          'which one IAM holds cannot be told, so neither is used',
        options.pageNames?.[index],
      );
    }
    byKind.set(entity.arn, { at, entry: entity });
    byKind.set(`name:${entity.name}`, { at, entry: entity });
    list.push(entity);
  };

  const policySeen = new Map<string, Seen<ManagedPolicy>>();
  parsedPages.forEach((page, index) => {
    const name = pageName(index);
    page.UserDetailList.forEach((u, i) => {
      const entry = `UserDetailList[${i}] (user ${u.UserName})`;
      add(
        'user',
        result.users,
        {
          name: u.UserName,
          arn: u.Arn,
          id: u.UserId,
          path: u.Path,
          createDate: creationDate(u.CreateDate, index, entry),
          groups: u.GroupList ?? [],
          inlinePolicies: inline(u.UserPolicyList),
          attachedPolicies: attached(u.AttachedManagedPolicies),
          permissionsBoundary: boundary(u.PermissionsBoundary),
        },
        `${name} ${entry}`,
        index,
      );
    });
    page.GroupDetailList.forEach((g, i) => {
      add(
        'group',
        result.groups,
        {
          name: g.GroupName,
          arn: g.Arn,
          id: g.GroupId,
          path: g.Path,
          inlinePolicies: inline(g.GroupPolicyList),
          attachedPolicies: attached(g.AttachedManagedPolicies),
        },
        `${name} GroupDetailList[${i}] (group ${g.GroupName})`,
        index,
      );
    });
    page.RoleDetailList.forEach((r, i) => {
      const entry = `RoleDetailList[${i}] (role ${r.RoleName})`;
      add(
        'role',
        result.roles,
        {
          name: r.RoleName,
          arn: r.Arn,
          id: r.RoleId,
          path: r.Path,
          createDate: creationDate(r.CreateDate, index, entry),
          trustPolicy: decodePolicyDocument(r.AssumeRolePolicyDocument),
          inlinePolicies: inline(r.RolePolicyList),
          attachedPolicies: attached(r.AttachedManagedPolicies),
          permissionsBoundary: boundary(r.PermissionsBoundary),
        },
        `${name} ${entry}`,
        index,
      );
    });
    page.Policies.forEach((p, i) => {
      const at = `${name} Policies[${i}]`;
      const policy: ManagedPolicy = {
        name: p.PolicyName,
        arn: p.Arn,
        path: p.Path,
        defaultVersionId: p.DefaultVersionId,
        document: defaultDocument(p),
        awsManaged: isAwsManaged(p.Arn),
      };
      const earlier = policySeen.get(p.Arn);
      if (!earlier) {
        policySeen.set(p.Arn, { at, entry: policy });
        result.policies[p.Arn] = policy;
        return;
      }
      if (canonical(earlier.entry) === canonical(policy)) return;
      const fields = differingFields(earlier.entry as unknown as Record<string, unknown>, policy as unknown as Record<string, unknown>);
      result.policies[p.Arn] = {
        ...earlier.entry,
        document: {
          ok: false,
          error: `the managed policy ${p.Arn} is listed twice with different content, at ${earlier.at} and at ${at} (they differ in ${fields.join(', ')})`,
        },
      };
    });
  });
  return result;
}

/**
 * The default version's document: exactly one version flagged IsDefaultVersion, and it is the one
 * DefaultVersionId names. Anything else is kept as an error naming the versions involved.
 */
function defaultDocument(p: Parsed['Policies'][number]): PolicyDocument {
  const flagged = p.PolicyVersionList.filter((v) => v.IsDefaultVersion);
  if (flagged.length > 1) {
    return {
      ok: false,
      error: `the policy has ${flagged.length} versions flagged IsDefaultVersion (${flagged.map((v) => v.VersionId).join(' and ')}): IAM has one default version`,
    };
  }
  const named = p.PolicyVersionList.filter((v) => v.VersionId === p.DefaultVersionId);
  const version = flagged[0];
  if (!version) {
    return {
      ok: false,
      error:
        named.length > 0
          ? `DefaultVersionId is ${p.DefaultVersionId} but that version is not flagged IsDefaultVersion`
          : 'the default policy version is not in the authorization details',
    };
  }
  if (version.VersionId !== p.DefaultVersionId) {
    return {
      ok: false,
      error: `DefaultVersionId is ${p.DefaultVersionId} but the version flagged IsDefaultVersion is ${version.VersionId}: which document is in force cannot be told`,
    };
  }
  if (named.length > 1) return { ok: false, error: `the policy lists version ${p.DefaultVersionId} twice` };
  return decodePolicyDocument(version.Document);
}
