import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, ProjectionType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { OPEN_INDEX, TTL_ATTRIBUTE } from '#lib/store/keys.ts';

/**
 * Every DynamoDB call the store makes in production (lib/store/store.ts): Query on the table and
 * the open index, PutItem (the lease, run records), BatchWriteItem (findings, history), GetItem
 * (observed scopes, the lease's holder), BatchGetItem (which runs completed: their run records'
 * keys), DeleteItem (releasing the lease). CreateTable/DescribeTable serve only the
 * local store's `ensureTable`; here the stack owns the table. test/infra/stack.test.ts fails when
 * the code starts calling an action that is not in this list.
 */
export const TABLE_DATA_ACTIONS = [
  'dynamodb:BatchGetItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:DeleteItem',
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:Query',
] as const;

/**
 * The findings table as `tableDefinition()` (lib/store/store.ts) describes it, plus what only the
 * real service has: TTL on history items, point-in-time recovery, encryption at rest.
 */
export class FindingsTable extends Construct {
  readonly table: Table;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.table = new Table(this, 'Table', {
      partitionKey: { name: 'PK', type: AttributeType.STRING },
      sortKey: { name: 'SK', type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: TTL_ATTRIBUTE,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      // AWS managed key: encrypted at rest and auditable in CloudTrail, without a key policy to
      // maintain or kms: permissions for the function (the table holds findings, not secrets).
      encryption: TableEncryption.AWS_MANAGED,
      // The findings' history is the audit trail: it outlives the stack and resists a stray delete.
      removalPolicy: RemovalPolicy.RETAIN,
      deletionProtection: true,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: OPEN_INDEX,
      partitionKey: { name: 'GSI1PK', type: AttributeType.STRING },
      sortKey: { name: 'GSI1SK', type: AttributeType.STRING },
      projectionType: ProjectionType.ALL,
    });
  }

  /** The table and its open index: the only resources the function's data actions apply to. */
  get dataResources(): string[] {
    return [this.table.tableArn, `${this.table.tableArn}/index/${OPEN_INDEX}`];
  }
}
