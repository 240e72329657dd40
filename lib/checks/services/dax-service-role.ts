import type { Inventory } from '#lib/inventory/types.ts';
import type { AuthorizationDetails, IamRole, PolicyDocument } from '#lib/inventory/types.ts';
import { managedPolicy, readDocument } from '#lib/policy/grants.ts';
import { isAllActions, normalizeStatements, statementLabel, wildcardMatch, type NormalizedStatement } from '#lib/policy/statements.ts';
import { CATALOGUE } from '#lib/checks/catalogue.ts';
import type { Finding } from '#lib/model/finding.ts';
import { allRolesArn } from '#lib/model/arn.ts';
import { errorFinding, makeFinding } from '#lib/model/finding.ts';
import { describeUnread, gatherRegional } from '../support/regional.ts';

const ID = 'dax-service-role' as const;
const DAX_SERVICE = 'dax.amazonaws.com';
const DAX_SLR_PATH = '/aws-service-role/dax.amazonaws.com/';

/**
 * `trusts`: some Allow lets dax.amazonaws.com call sts:AssumeRole and no unconditional Deny takes it
 * back. `deniedBy` names the Deny that does; `conditionalDenies` the Denies that may, depending on
 * their conditions (not evaluated: the role is still counted as trusting DAX).
 */
type Trust = { trusts: boolean; deniedBy?: string; conditionalDenies?: string[] } | { error: string };

function assumeRoleAction(action: string): boolean {
  const a = action.toLowerCase();
  return isAllActions(a) || a === 'sts:*' || a === 'sts:assumerole';
}

function servicesOf(principal: Record<string, string[]>): string[] {
  return Object.entries(principal).find(([type]) => type.toLowerCase() === 'service')?.[1] ?? [];
}

function namesDax(services: string[]): boolean {
  return services.some((svc) => wildcardMatch(svc.trim().toLowerCase(), DAX_SERVICE));
}

/** Whether an Allow grants DAX the assume call: a Service principal naming it, sts:AssumeRole. */
function allowsDax(s: NormalizedStatement): boolean {
  if (s.effect !== 'Allow' || !s.actions?.some(assumeRoleAction) || s.principal === null || s.principal === '*') {
    return false;
  }
  return namesDax(servicesOf(s.principal));
}

/**
 * Whether a Deny reaches DAX assuming the role: its Principal is everyone (`*`, `{"AWS": "*"}`)
 * or a Service naming DAX, and its Action (or NotAction) covers sts:AssumeRole. Read widely: a
 * Deny taken for broader than it is can only turn a PASS into a FAIL, never the reverse.
 * (IAM refuses NotPrincipal in a role trust policy, so it is not read here.)
 */
function deniesDax(s: NormalizedStatement): boolean {
  if (s.effect !== 'Deny' || s.principal === null) return false;
  const principalCovers =
    s.principal === '*' ||
    Object.entries(s.principal).some(([type, ids]) => type.toLowerCase() === 'aws' && ids.some((id) => id.trim() === '*')) ||
    namesDax(servicesOf(s.principal));
  if (!principalCovers) return false;
  const covers = (pattern: string) => isAllActions(pattern) || wildcardMatch(pattern.trim().toLowerCase(), 'sts:assumerole');
  if (s.actions) return s.actions.some(covers);
  if (s.notActions) return !s.notActions.some(covers);
  return false;
}

/** Does the trust policy let the DAX service assume the role? Found by trust, never by name. */
export function trustsDax(trustPolicy: PolicyDocument): Trust {
  if (!trustPolicy.ok) return { error: trustPolicy.error };
  const read = normalizeStatements(trustPolicy.document);
  if (!read.ok) return { error: read.error };
  if (!read.statements.some(allowsDax)) return { trusts: false };
  const denies = read.statements.filter(deniesDax);
  // An explicit Deny overrides any Allow: one without a condition always applies.
  const unconditional = denies.find((s) => s.condition === null);
  if (unconditional) return { trusts: false, deniedBy: statementLabel(unconditional) };
  if (denies.length > 0) return { trusts: true, conditionalDenies: denies.map(statementLabel) };
  return { trusts: true };
}

/** The DynamoDB actions a role's policies allow, by policy, for the details. */
function dynamoDbPermissions(role: IamRole, auth: AuthorizationDetails): { policy: string; actions: string[]; resources: string[] }[] {
  const documents: { policy: string; document: PolicyDocument | undefined }[] = [
    ...role.inlinePolicies.map((p) => ({ policy: `${p.name} (inline)`, document: p.document })),
    ...role.attachedPolicies.map((p) => ({ policy: p.arn, document: managedPolicy(auth, p.arn)?.document })),
  ];
  const out: { policy: string; actions: string[]; resources: string[] }[] = [];
  for (const { policy, document } of documents) {
    if (!document) continue;
    const read = readDocument(document);
    if (!read.ok) continue;
    for (const s of read.statements) {
      if (s.effect !== 'Allow' || !s.actions) continue;
      const actions = s.actions.filter((a) => isAllActions(a) || a.toLowerCase().startsWith('dynamodb:'));
      if (actions.length > 0) out.push({ policy, actions, resources: s.resources ?? [] });
    }
  }
  return out;
}

export function evaluate(inventory: Inventory): Finding[] {
  const accountResource = allRolesArn(inventory);
  const clusters = gatherRegional(
    inventory,
    (r) => r.dax,
    (d) => (d.available ? d.clusters : []),
  );
  const clusterArn = (c: (typeof clusters.items)[number]) =>
    c.arn ?? `arn:${inventory.partition}:dax:${c.region}:${inventory.accountId}:cache/${c.name}`;
  const findings: Finding[] = [];

  // Regions whose clusters could not be listed: their clusters' roles are unchecked.
  for (const u of clusters.unread) {
    findings.push(
      errorFinding(
        inventory,
        CATALOGUE['dax-service-role'],
        `arn:${inventory.partition}:dax:${u.region}:${inventory.accountId}:cache/*`,
        u,
        `DAX clusters in ${u.region} could not be listed`,
      ),
    );
  }

  const auth = inventory.authorizationDetails;
  if (auth.state !== 'read') {
    findings.push(errorFinding(inventory, CATALOGUE['dax-service-role'], accountResource, auth));
    for (const c of clusters.items)
      findings.push(
        errorFinding(
          inventory,
          CATALOGUE['dax-service-role'],
          clusterArn(c),
          auth,
          `the role of DAX cluster ${c.name} could not be checked`,
        ),
      );
    return findings;
  }

  const trust = new Map(auth.data.roles.map((r) => [r.arn, trustsDax(r.trustPolicy)]));
  // The service-linked role AWSServiceRoleForDAX trusts dax.amazonaws.com too, but it manages
  // network interfaces; a cluster cannot use it to reach DynamoDB, so it is not a service role.
  const trusting = auth.data.roles.filter((r) => {
    if (r.path.startsWith('/aws-service-role/')) return false;
    const t = trust.get(r.arn);
    return t !== undefined && 'trusts' in t && t.trusts;
  });
  const unreadableTrust = auth.data.roles.filter((r) => 'error' in (trust.get(r.arn) ?? { trusts: false }));
  const serviceLinked = auth.data.roles.filter((r) => r.path === DAX_SLR_PATH).map((r) => r.arn);
  const rolesFound = trusting.map((r) => ({ name: r.name, arn: r.arn, dynamodbPermissions: dynamoDbPermissions(r, auth.data) }));

  for (const c of clusters.items) {
    const role = c.iamRoleArn ? auth.data.roles.find((r) => r.arn === c.iamRoleArn) : undefined;
    const base = { cluster: c.name, region: c.region, status: c.status, iamRoleArn: c.iamRoleArn };
    const t = role ? trust.get(role.arn) : undefined;
    if (role && t && 'error' in t) {
      findings.push(
        makeFinding(inventory, ID, {
          resource: clusterArn(c),
          status: 'ERROR',
          severity: 'high',
          title: `the trust policy of ${role.name}, the role of DAX cluster ${c.name}, cannot be read: ${t.error}`,
          details: base,
        }),
      );
    } else if (!role) {
      findings.push(
        makeFinding(inventory, ID, {
          resource: clusterArn(c),
          status: 'FAIL',
          severity: 'high',
          title: `DAX cluster ${c.name} (${c.region}) uses ${c.iamRoleArn ?? 'no role'}, which does not exist`,
          details: { ...base, rolesTrustingDax: rolesFound },
        }),
      );
    } else if (!(t && 'trusts' in t && t.trusts)) {
      findings.push(
        makeFinding(inventory, ID, {
          resource: clusterArn(c),
          status: 'FAIL',
          severity: 'high',
          title: `DAX cluster ${c.name} (${c.region}) uses ${role.name}, which does not trust ${DAX_SERVICE}${t && 'deniedBy' in t && t.deniedBy ? ` (its trust policy denies it: ${t.deniedBy})` : ''}`,
          details: { ...base, ...(t && 'deniedBy' in t && t.deniedBy ? { trustDeniedBy: t.deniedBy } : {}), rolesTrustingDax: rolesFound },
        }),
      );
    } else {
      findings.push(
        makeFinding(inventory, ID, {
          resource: clusterArn(c),
          status: 'PASS',
          severity: 'informational',
          title: `DAX cluster ${c.name} (${c.region}) uses ${role.name}, which trusts ${DAX_SERVICE}`,
          details: {
            ...base,
            dynamodbPermissions: dynamoDbPermissions(role, auth.data),
            // Conditions are not evaluated: a conditional Deny may still stop DAX at times.
            ...(t.conditionalDenies ? { conditionalTrustDenies: t.conditionalDenies } : {}),
          },
        }),
      );
    }
  }

  const accountDetails: Record<string, unknown> = {
    rolesTrustingDax: rolesFound,
    serviceLinkedRole: serviceLinked.length > 0 ? serviceLinked : 'AWSServiceRoleForDAX not found (DAX creates it with the first cluster)',
    clusters: clusters.items.map((c) => ({ name: c.name, region: c.region, iamRoleArn: c.iamRoleArn })),
    regions: inventory.regions.map((r) => ({
      region: r.region,
      dax: r.dax.state === 'read' ? (r.dax.data.available ? 'read' : 'not available') : 'unread',
    })),
  };
  // Roles that would trust DAX but for an unconditional Deny: why they are not counted.
  const deniedTrust = auth.data.roles.flatMap((r) => {
    const t = trust.get(r.arn);
    return t && 'deniedBy' in t && t.deniedBy ? [{ role: r.arn, deniedBy: t.deniedBy }] : [];
  });
  if (deniedTrust.length > 0) accountDetails.trustDeniedRoles = deniedTrust;
  if (unreadableTrust.length > 0) {
    accountDetails.unreadableTrustPolicies = unreadableTrust.map((r) => ({
      role: r.arn,
      error: (trust.get(r.arn) as { error: string }).error,
    }));
  }
  const account = (fields: Pick<Finding, 'status' | 'severity' | 'title'>) =>
    makeFinding(inventory, ID, { resource: accountResource, ...fields, details: accountDetails });

  if (trusting.length > 0) {
    findings.push(
      account({
        status: 'PASS',
        severity: 'informational',
        title: `${trusting.length} role(s) trust ${DAX_SERVICE}: ${trusting.map((r) => r.name).join(', ')}`,
      }),
    );
  } else if (unreadableTrust.length > 0) {
    // A role whose trust policy cannot be read might be the DAX role: never conclude "missing".
    findings.push(
      account({
        status: 'ERROR',
        severity: 'high',
        title: `no readable role trusts ${DAX_SERVICE}, and ${unreadableTrust.length} trust policy(ies) cannot be read`,
      }),
    );
  } else if (clusters.items.length > 0) {
    findings.push(
      account({
        status: 'FAIL',
        severity: 'high',
        title: `no role trusts ${DAX_SERVICE}, yet ${clusters.items.length} DAX cluster(s) exist`,
      }),
    );
  } else if (clusters.unread.length > 0) {
    findings.push(
      account({
        status: 'ERROR',
        severity: 'high',
        title: `no role trusts ${DAX_SERVICE}, and DAX clusters could not be listed: ${describeUnread(clusters.unread)} failed`,
      }),
    );
  } else {
    findings.push(
      account({ status: 'WARN', severity: 'low', title: `no role trusts ${DAX_SERVICE}: create one before the first DAX cluster` }),
    );
  }
  return findings;
}
