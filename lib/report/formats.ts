import type { PipelineResult } from '#lib/audit/pipeline.ts';
import type { StoredFinding } from '#lib/reconcile/types.ts';
import { type AsffFinding, type ExportedFinding, toValidAsff } from '#lib/export/asff.ts';
import { type OcsfComplianceFinding, toOcsf } from '#lib/export/ocsf.ts';
import { VERSION } from '#lib/model/version.ts';

/** account-auditor's version, named in OCSF metadata.product. */
export const PRODUCT_VERSION = VERSION;

/** A run's findings for export: each finding it produced, and each it resolved by absence. */
export function runExportItems(p: PipelineResult): ExportedFinding[] {
  const { findings } = p.reconciled;
  return [...findings.filter((r) => r.finding !== null), ...findings.filter((r) => r.finding === null && r.change === 'resolved')].map(
    (r) => ({
      state: r.state,
      change: r.change,
    }),
  );
}

/** Stored open findings (`account-auditor findings`): no change, this is the state as stored. */
export function storedExportItems(findings: readonly StoredFinding[]): ExportedFinding[] {
  return findings.map((state) => ({ state, change: null }));
}

export interface ExportTarget {
  partition: string;
  region: string;
  now: Date;
}

/** `--format asff`: a JSON array of validated ASFF findings; throws AsffValidationError naming the finding and field. */
export function renderAsff(items: readonly ExportedFinding[], target: ExportTarget): string {
  const findings: AsffFinding[] = items.map((item) =>
    toValidAsff(item, {
      partition: target.partition,
      region: target.region,
      accountId: item.state.accountId,
      now: target.now.toISOString(),
    }),
  );
  return JSON.stringify(findings, null, 2);
}

/** `--format ocsf`: a JSON array of OCSF 1.1.0 Compliance Finding events. */
export function renderOcsf(
  items: readonly ExportedFinding[],
  target: Pick<ExportTarget, 'partition' | 'now'> & { region: string | null },
): string {
  const events: OcsfComplianceFinding[] = items.map((item) =>
    toOcsf(item, { partition: target.partition, region: target.region, now: target.now.getTime(), productVersion: PRODUCT_VERSION }),
  );
  return JSON.stringify(events, null, 2);
}
