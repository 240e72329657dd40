import type { Inventory } from '#lib/inventory/types.ts';
import { CATALOGUE } from '#lib/checks/catalogue.ts';
import type { Finding } from '#lib/model/finding.ts';
import { errorFinding, makeFinding } from '#lib/model/finding.ts';
import { describeUnread, gatherRegional } from '../support/regional.ts';

const ID = 'elasticache-service-linked-role' as const;
const SLR_PATH = '/aws-service-role/elasticache.amazonaws.com/';
const SLR_NAME = 'AWSServiceRoleForElastiCache';
const CREATE_COMMAND = 'aws iam create-service-linked-role --aws-service-name elasticache.amazonaws.com';

export function evaluate(inventory: Inventory): Finding[] {
  // The identity is the role's canonical ARN, so the finding is the same whether the role exists or not.
  const resource = `arn:${inventory.partition}:iam::${inventory.accountId}:role${SLR_PATH}${SLR_NAME}`;
  const auth = inventory.authorizationDetails;
  if (auth.state !== 'read') return [errorFinding(inventory, CATALOGUE['elasticache-service-linked-role'], resource, auth)];

  // Found by path, not exact name: AWS may add a suffix to service-linked role names.
  const roles = auth.data.roles.filter((r) => r.path === SLR_PATH);
  if (roles.length > 0) {
    return [
      makeFinding(inventory, ID, {
        resource,
        status: 'PASS',
        severity: 'informational',
        title: `the ElastiCache service-linked role exists (${roles.map((r) => r.name).join(', ')})`,
        details: { roles: roles.map((r) => ({ name: r.name, arn: r.arn, createDate: r.createDate })) },
      }),
    ];
  }

  const clusters = gatherRegional(
    inventory,
    (r) => r.elastiCache,
    (d) => [
      ...d.cacheClusters.map((c) => ({ kind: 'cache cluster', id: c.id })),
      ...d.replicationGroups.map((g) => ({ kind: 'replication group', id: g.id })),
    ],
  );
  const details: Record<string, unknown> = {
    expectedPath: SLR_PATH,
    regions: inventory.regions.map((r) => r.region),
    clusters: clusters.items,
    command: CREATE_COMMAND,
  };
  if (clusters.unread.length > 0) details.unreadRegions = clusters.unread;

  if (clusters.items.length > 0) {
    const where = [...new Set(clusters.items.map((c) => c.region))].join(', ');
    return [
      makeFinding(inventory, ID, {
        resource,
        status: 'FAIL',
        severity: 'high',
        title: `the ElastiCache service-linked role is missing while ${clusters.items.length} cluster(s) or replication group(s) exist in ${where}`,
        details,
      }),
    ];
  }
  // Whether it is FAIL or WARN depends on clusters we could not see: say so instead of guessing.
  if (clusters.unread.length > 0) {
    return [
      makeFinding(inventory, ID, {
        resource,
        status: 'ERROR',
        severity: 'high',
        title: `the ElastiCache service-linked role is missing, and clusters could not be listed: ${describeUnread(clusters.unread)} failed`,
        details,
      }),
    ];
  }
  return [
    makeFinding(inventory, ID, {
      resource,
      status: 'WARN',
      severity: 'low',
      title: 'the ElastiCache service-linked role is missing: create it before the first cluster, or grant iam:CreateServiceLinkedRole',
      details,
    }),
  ];
}
