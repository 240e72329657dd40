import type { IConstruct } from 'constructs';
import { parseSettings, SettingsError, type SettingsInput } from '#lib/settings.ts';

/**
 * The deployment's choices, read from CDK context (`-c key=value`, or "context" in cdk.json):
 *
 * - `alertEmail`: an address subscribed to the alert topic (none by default);
 * - `schedule`: the nightly EventBridge expression, default `cron(0 3 * * ? *)` (03:00 UTC);
 * - `settings`: the deployed settings (lib/settings.ts) as a JSON object or string, default `{}`;
 * - `regions`: regions to audit for ElastiCache and DAX, comma-separated; default the stack's own;
 * - `securityHub`: `true` turns the securityHub setting on and grants securityhub:BatchImportFindings
 *   on this account's default product in the stack's region, plus an alarm on findings not imported.
 *
 * Everything is validated at synth time: a typo fails `cdk synth`, not the first night's run.
 */
export interface AuditorConfig {
  alertEmail: string | null;
  schedule: string;
  /** The settings as given (defaults are the handler's to apply), without `regions`. */
  settings: Omit<SettingsInput, 'regions'>;
  /** Explicit regions, or null for the stack's own region. */
  regions: string[] | null;
  /** Import findings into Security Hub (the setting, its permission and its alarm). */
  securityHub: boolean;
}

export const DEFAULT_SCHEDULE = 'cron(0 3 * * ? *)';

/**
 * Lambda allows 4 KB for all environment variables together; the settings (a long mute list)
 * are the only variable that can grow, so they get most of it and the rest keeps a margin.
 */
export const MAX_SETTINGS_BYTES = 3_500;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const SCHEDULE = /^(cron|rate)\(.+\)$/;

function text(scope: IConstruct, key: string): string | null {
  const value: unknown = scope.node.tryGetContext(key);
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw new ConfigError(`context ${key} must be a string, got ${JSON.stringify(value)}`);
  return value.trim() === '' ? null : value.trim();
}

function settingsInput(scope: IConstruct): SettingsInput {
  let value: unknown = scope.node.tryGetContext('settings');
  if (value === undefined || value === null || value === '') return {};
  // `-c settings='{"maxKeyAgeDays":60}'` arrives as a string; cdk.json may hold the object itself.
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch (error) {
      throw new ConfigError(`context settings is not valid JSON: ${(error as Error).message}`);
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError(`context settings must be a JSON object, got ${JSON.stringify(value)}`);
  }
  return value as SettingsInput;
}

function regionsList(scope: IConstruct): string[] | null {
  const value: unknown = scope.node.tryGetContext('regions');
  if (value === undefined || value === null) return null;
  const list = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : null;
  if (!list?.every((r): r is string => typeof r === 'string')) {
    throw new ConfigError(`context regions must be a comma-separated list of region names, got ${JSON.stringify(value)}`);
  }
  const regions = list.map((r) => r.trim()).filter((r) => r !== '');
  return regions.length > 0 ? [...new Set(regions)] : null;
}

function flag(scope: IConstruct, key: string): boolean {
  const value: unknown = scope.node.tryGetContext(key);
  if (value === undefined || value === null || value === '' || value === false || value === 'false') return false;
  if (value === true || value === 'true') return true;
  throw new ConfigError(`context ${key} must be true or false, got ${JSON.stringify(value)}`);
}

/** Reads and validates the deployment's context; throws ConfigError naming the offending key. */
export function readConfig(scope: IConstruct): AuditorConfig {
  const alertEmail = text(scope, 'alertEmail');
  if (alertEmail !== null && !EMAIL.test(alertEmail))
    throw new ConfigError(`context alertEmail is not an email address: ${JSON.stringify(alertEmail)}`);

  const schedule = text(scope, 'schedule') ?? DEFAULT_SCHEDULE;
  if (!SCHEDULE.test(schedule)) {
    throw new ConfigError(
      `context schedule must be an EventBridge expression such as ${DEFAULT_SCHEDULE} or rate(1 day), got ${JSON.stringify(schedule)}`,
    );
  }

  const { regions: settingsRegions, ...given } = settingsInput(scope);
  const securityHub = flag(scope, 'securityHub');
  // The setting and its permission come together: a setting without the grant would fail every night.
  if (given.securityHub !== undefined && given.securityHub !== securityHub) {
    throw new ConfigError(
      `context settings.securityHub is ${String(given.securityHub)} but context securityHub is ${String(securityHub)}: use -c securityHub=true alone, which turns the setting on and grants securityhub:BatchImportFindings`,
    );
  }
  const settings = securityHub ? { ...given, securityHub } : given;
  // `regions` (context) wins over settings.regions; with neither, the stack's own region.
  const regions = regionsList(scope) ?? (settingsRegions && settingsRegions.length > 0 ? settingsRegions : null);
  try {
    // The same validation the handler applies at cold start, so a bad value fails the synth.
    parseSettings({ ...settings, ...(regions ? { regions } : {}) });
  } catch (error) {
    if (error instanceof SettingsError) throw new ConfigError(`context settings/regions: ${error.message}`);
    throw error;
  }
  const bytes = Buffer.byteLength(JSON.stringify({ ...settings, regions: regions ?? ['xx-xxxxxxxxx-1'] }));
  if (bytes > MAX_SETTINGS_BYTES) {
    throw new ConfigError(
      `context settings take ${bytes} bytes as JSON; Lambda allows 4 KB for all environment variables together, so keep them under ${MAX_SETTINGS_BYTES} (shorten the mute list or its reasons)`,
    );
  }
  return { alertEmail, schedule, settings, regions, securityHub };
}
