import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { OrganizationContextStore } from '#lib/store/organization-context.ts';
import { loadTableConfig } from './config.ts';

/**
 * The organization context store of a deployed function: the findings table (TABLE_NAME), its
 * items kept as long as the history (AUDITOR_SETTINGS' historyTtlDays). A missing or malformed
 * variable throws ConfigurationError naming it.
 */
export function organizationContextStore(client: DynamoDBClient, env: Record<string, string | undefined>): OrganizationContextStore {
  const { tableName, settings } = loadTableConfig(env);
  return new OrganizationContextStore({ client, tableName, historyTtlDays: settings.historyTtlDays });
}
