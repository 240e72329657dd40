import { vi } from 'vitest';
import { runAudit } from '#lib/audit/run.ts';
import type { AuditResult } from '#lib/model/run.ts';
import { collectLive } from '#lib/inventory/live.ts';
import { liveOptions } from '#lib/audit/collect.ts';
import { parseSettings, type Settings } from '#lib/settings.ts';
import { type Credentials, DUMMY_CREDENTIALS, motoEndpoint } from './aws.ts';
import { REGION } from './moto.ts';

/** A short credential report bound: moto answers the first GenerateCredentialReport with STARTED. */
export const E2E_SETTINGS = parseSettings({ regions: [REGION], reportWaitSeconds: 1 });

/**
 * The live collector and the checks, in this process, through the SDK's default chain as a user
 * runs them, with that chain pointed at moto alone: its endpoint, these keys, no profile, no
 * config or credentials file, no instance metadata.
 */
export async function auditLive(credentials: Credentials = DUMMY_CREDENTIALS, settings: Settings = E2E_SETTINGS): Promise<AuditResult> {
  vi.stubEnv('AWS_ENDPOINT_URL', motoEndpoint());
  vi.stubEnv('AWS_REGION', REGION);
  vi.stubEnv('AWS_ACCESS_KEY_ID', credentials.accessKeyId);
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', credentials.secretAccessKey);
  vi.stubEnv('AWS_SESSION_TOKEN', '');
  vi.stubEnv('AWS_PROFILE', '');
  vi.stubEnv('AWS_CONFIG_FILE', '/nonexistent/aws-config');
  vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', '/nonexistent/aws-credentials');
  vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
  try {
    return await runAudit({ collect: () => collectLive(liveOptions({ settings, regions: [REGION] })), settings, trigger: 'local' });
  } finally {
    vi.unstubAllEnvs();
  }
}
