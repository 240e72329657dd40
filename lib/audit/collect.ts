import { DEFAULT_CHECK_IDS, inputsOf } from '#lib/checks/catalogue.ts';
import { ageInDays } from '#lib/checks/support/key-facts.ts';
import type { LiveOptions } from '#lib/inventory/live.ts';
import { awsRetryConfig, type Settings } from '#lib/settings.ts';

/** A live collection as the shells ask for it: the settings, and what is not a setting. */
export type LiveRequest = Omit<LiveOptions, 'inputs' | 'regions' | 'reportWaitSeconds' | 'keyLookups' | 'maxAttempts' | 'retryMode'> & {
  settings: Settings;
  /** Overrides `settings.regions`; when both are empty, the SDK's default region. */
  regions?: readonly string[];
  /** SDK attempts per call, the first one included; overrides `settings.awsMaxAttempts`. */
  maxAttempts?: number;
};

/**
 * The collector's options from the settings: it reads only what the selected checks read (the
 * catalogue's inputs; `--checks` and payload `checks` save the calls too), and looks up the keys
 * the access-key-age check reports as FAIL, by that check's own age.
 */
export function liveOptions({ settings, regions, maxAttempts, ...rest }: LiveRequest): LiveOptions {
  const retry = awsRetryConfig(settings);
  return {
    ...rest,
    inputs: inputsOf(settings.checks.length > 0 ? settings.checks : DEFAULT_CHECK_IDS),
    regions: regions && regions.length > 0 ? regions : settings.regions,
    reportWaitSeconds: settings.reportWaitSeconds,
    keyLookups: {
      limit: settings.keyIdLookups,
      isOverAge: (lastRotated, collectedAt) => ageInDays(lastRotated, collectedAt) > settings.maxKeyAgeDays,
    },
    maxAttempts: maxAttempts ?? retry.maxAttempts,
    retryMode: retry.retryMode,
  };
}
