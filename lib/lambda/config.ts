import { AuditorError } from '#lib/model/errors.ts';
import { ENV } from './contract.ts';
import { parseSettings, SettingsError, type Settings } from '#lib/settings.ts';

/**
 * The function was deployed wrong (a missing or malformed environment variable). Not the caller's
 * fault and not fixable by retrying: the message names the variable so the stack can be fixed.
 */
export class ConfigurationError extends AuditorError {
  override name = 'ConfigurationError';
}

/** What the deployment decides and no payload can change. */
export interface DeployedConfig {
  tableName: string;
  topicArn: string;
  settings: Settings;
  /**
   * The function's own region (AWS_REGION): what the collector audits when the deployed settings
   * name no region, so the only region a payload may ask for then.
   */
  defaultRegion: string | null;
}

/** DynamoDB's table name rule, so a typo fails here rather than as an SDK validation error mid-run. */
const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/;
const TOPIC_ARN = /^arn:[^:]+:sns:[^:]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$/;

function required(env: Record<string, string | undefined>, name: string, what: string): string {
  const value = env[name]?.trim();
  if (!value) throw new ConfigurationError(`configuration error: ${name} is not set; it must hold ${what}`);
  return value;
}

/**
 * Reads the deployment's environment. AUDITOR_SETTINGS may be absent (every setting has a
 * default) but not malformed: a typo there would otherwise audit with silently different limits.
 */
export function loadConfig(env: Record<string, string | undefined>): DeployedConfig {
  const { tableName, settings } = loadTableConfig(env);
  const topicArn = required(env, ENV.topicArn, 'the ARN of the alert topic');
  if (!TOPIC_ARN.test(topicArn))
    throw new ConfigurationError(`configuration error: ${ENV.topicArn} is not an SNS topic ARN: ${JSON.stringify(topicArn)}`);
  return { tableName, topicArn, settings, defaultRegion: env.AWS_REGION?.trim() || null };
}

/**
 * The table and the settings of the deployment, without the topic: what the organization's
 * discover step needs to write the run's context (TABLE_NAME, AUDITOR_SETTINGS' historyTtlDays).
 */
export function loadTableConfig(env: Record<string, string | undefined>): { tableName: string; settings: Settings } {
  const tableName = required(env, ENV.tableName, 'the name of the findings table');
  if (!TABLE_NAME.test(tableName))
    throw new ConfigurationError(`configuration error: ${ENV.tableName} is not a DynamoDB table name: ${JSON.stringify(tableName)}`);

  const raw = env[ENV.settings];
  let input: unknown = {};
  if (raw !== undefined && raw.trim() !== '') {
    try {
      input = JSON.parse(raw);
    } catch (error) {
      throw new ConfigurationError(`configuration error: ${ENV.settings} is not valid JSON: ${(error as Error).message}`, { cause: error });
    }
    if (input === null || typeof input !== 'object' || Array.isArray(input)) {
      throw new ConfigurationError(`configuration error: ${ENV.settings} must be a JSON object of settings, got ${JSON.stringify(input)}`);
    }
  }
  let settings: Settings;
  try {
    settings = parseSettings(input);
  } catch (error) {
    if (error instanceof SettingsError)
      throw new ConfigurationError(`configuration error: ${ENV.settings}: ${error.message}`, { cause: error });
    throw error;
  }
  return { tableName, settings };
}
