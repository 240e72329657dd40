/**
 * `--format asff` and `--format ocsf`: every finding of the demo account (both nights, so new,
 * open and resolved ones) passes the ASFF validator and the OCSF 1.1.0 Compliance Finding schema
 * (test/fixtures/ocsf); findings Security Hub would refuse are refused here with the field named;
 * hostile titles and details still give valid output.
 */
import { readFile } from 'node:fs/promises';
import { Ajv } from 'ajv';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditAndRecord, type PipelineResult } from '#lib/audit/pipeline.ts';
import { DEMO_DIR, DEMO_NEXT_DIR, main } from '#lib/cli/main.ts';
import { CHECK_IDS } from '#lib/checks/catalogue.ts';
import { SEVERITIES, STATUSES } from '#lib/model/finding.ts';
import {
  AsffValidationError,
  type AsffFinding,
  asffId,
  type ExportedFinding,
  productArn,
  toAsff,
  toValidAsff,
  validateAsff,
} from '#lib/export/asff.ts';
import { OCSF_CLASS_UID, OCSF_VERSION, toOcsf } from '#lib/export/ocsf.ts';
import { PRODUCT_VERSION, runExportItems } from '#lib/report/formats.ts';
import { loadOffline } from '#lib/inventory/offline.ts';
import type { Change, StoredFinding } from '#lib/reconcile/types.ts';
import { parseSettings } from '#lib/settings.ts';
import type { LocalStore } from '#lib/store/local.ts';
import { freshTable } from '#test/dynalite.ts';
import { FindingsStore } from '#lib/store/store.ts';

const schema = JSON.parse(
  await readFile(new URL('../fixtures/ocsf/compliance-finding-1.1.0.schema.json', import.meta.url), 'utf8'),
) as object;
const validateOcsf = new Ajv({ allErrors: true, strict: true }).compile(schema);
const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const TARGET = { partition: 'aws', region: 'eu-west-1', accountId: '123456789012', now: '2026-11-03T00:00:00.000Z' };
const OCSF_CONTEXT = { partition: 'aws', region: 'eu-west-1', now: Date.parse(TARGET.now), productVersion: PRODUCT_VERSION };

function expectOcsfValid(event: unknown): void {
  const ok = validateOcsf(event);
  expect(ok, JSON.stringify(validateOcsf.errors)).toBe(true);
}

let local: LocalStore;
beforeEach(async () => {
  local = await freshTable();
});
afterEach(async () => {
  await local.close();
});

async function demoNights(): Promise<[PipelineResult, PipelineResult]> {
  const store = new FindingsStore({ client: local.client, tableName: local.tableName, historyTtlDays: 400 });
  const night = (dir: string) =>
    auditAndRecord({ collect: () => loadOffline(dir, { origin: 'demo' }), settings: parseSettings({}), trigger: 'local', store });
  const first = await night(DEMO_DIR);
  return [first, await night(DEMO_NEXT_DIR)];
}

describe('the demo account in ASFF and OCSF', () => {
  it('every finding of both nights passes the ASFF validator and the OCSF 1.1.0 Compliance Finding schema', async () => {
    const [first, second] = await demoNights();
    const items = [...runExportItems(first), ...runExportItems(second)];
    expect(items.length).toBeGreaterThan(20);
    expect(new Set(items.map((i) => i.change))).toEqual(new Set(['new', 'unchanged', 'open', 'resolved']));
    for (const item of items) {
      const asff = toValidAsff(item, TARGET);
      expect(asff.Id).toBe(item.state.id);
      expect(asff.GeneratorId).toBe(item.state.checkId);
      expect(asff.FirstObservedAt).toBe(item.state.firstSeen);
      expect(asff.CreatedAt).toBe(item.state.firstSeen);
      expectOcsfValid(toOcsf(item, OCSF_CONTEXT));
    }
    // Night 2's findings that were open on night 1 keep night 1's firstSeen (a PASS never open is not stored).
    const firstSeen = new Map(
      runExportItems(first)
        .filter((i) => i.state.status !== 'PASS')
        .map((i) => [i.state.id, i.state.firstSeen]),
    );
    for (const item of runExportItems(second)) {
      if (firstSeen.has(item.state.id)) expect(toAsff(item, TARGET).FirstObservedAt).toBe(firstSeen.get(item.state.id));
    }
  });

  it('maps the fields: ProductArn, Types, Severity, Compliance with CIS and the control, resource types, record state, workflow', async () => {
    const [first, second] = await demoNights();
    const asff = (p: PipelineResult) => runExportItems(p).map((i) => toValidAsff(i, TARGET));
    const night1 = asff(first);
    const root = night1.find((f) => f.GeneratorId === 'root-access-key')!;
    expect(root.ProductArn).toBe('arn:aws:securityhub:eu-west-1:123456789012:product/123456789012/default');
    expect(root.Types).toContain('Software and Configuration Checks/Industry and Regulatory Standards/CIS AWS Foundations Benchmark');
    expect(root.Resources).toEqual([{ Type: 'AwsAccount', Id: 'AWS::::Account:123456789012', Partition: 'aws', Region: 'eu-west-1' }]);
    expect(root.Compliance).toEqual({
      Status: 'FAILED',
      RelatedRequirements: [
        'CIS AWS Foundations Benchmark v1.4.0/1.4',
        'CIS AWS Foundations Benchmark v3.0.0/1.4',
        'CIS AWS Foundations Benchmark v5.0.0/1.3',
      ],
      SecurityControlId: 'IAM.4',
    });
    expect(root.Workflow).toEqual({ Status: 'NEW' });
    expect(root.RecordState).toBe('ACTIVE');
    const types = new Set(night1.map((f) => f.Resources[0]!.Type));
    expect(types).toEqual(new Set(['AwsAccount', 'AwsIamUser', 'AwsIamAccessKey', 'AwsIamRole', 'Other']));
    const dax = night1.find((f) => f.Resources[0]!.Id.includes(':dax:eu-west-1:'))!;
    expect(dax.Resources[0]).toMatchObject({ Type: 'Other', Region: 'eu-west-1' });
    const warn = night1.find((f) => f.ProductFields['accountAuditor/status'] === 'WARN')!;
    expect(warn.Compliance.Status).toBe('WARNING');
    const pass = night1.find((f) => f.ProductFields['accountAuditor/status'] === 'PASS')!;
    expect(pass.Severity.Label).toBe('INFORMATIONAL');
    expect(pass.Compliance.Status).toBe('PASSED');

    const night2 = asff(second);
    const resolved = night2.filter((f) => f.ProductFields['accountAuditor/change'] === 'resolved');
    expect(resolved.length).toBeGreaterThan(0);
    for (const f of resolved) expect(f).toMatchObject({ RecordState: 'ARCHIVED', Compliance: { Status: 'PASSED' } });
    expect(resolved.every((f) => f.Workflow === undefined)).toBe(true);
    // Workflow only on findings new to the auditor, never on an open one someone may have triaged.
    for (const f of night2) expect(f.Workflow !== undefined).toBe(f.ProductFields['accountAuditor/change'] === 'new');
  });

  it('OCSF: class, version, product, finding_info, compliance, severity and status, cloud account, resources, remediation', async () => {
    const [first, second] = await demoNights();
    const root = runExportItems(first).find((i) => i.state.checkId === 'root-access-key')!;
    const event = toOcsf(root, OCSF_CONTEXT);
    expect(event).toMatchObject({
      class_uid: OCSF_CLASS_UID,
      type_uid: 200301,
      metadata: { version: OCSF_VERSION, product: { name: 'account-auditor' } },
      finding_info: { uid: root.state.id, title: root.state.title },
      compliance: {
        standards: expect.arrayContaining(['CIS AWS Foundations Benchmark v1.4.0']),
        requirements: expect.arrayContaining(['CIS AWS Foundations Benchmark v1.4.0/1.4']),
        control: 'IAM.4',
        status_id: 3,
      },
      severity_id: 4,
      status_id: 1,
      cloud: { provider: 'AWS', account: { uid: '123456789012' } },
      resources: [{ uid: 'arn:aws:iam::123456789012:root', type: 'AwsAccount' }],
    });
    expect(event.remediation.desc).toContain('delete');
    const resolved = runExportItems(second).find((i) => i.change === 'resolved')!;
    expect(toOcsf(resolved, OCSF_CONTEXT)).toMatchObject({ activity_id: 3, type_uid: 200303, status_id: 4, compliance: { status_id: 1 } });
  });

  it('the CLI prints the same: run --demo --format asff and --format ocsf', async () => {
    for (const format of ['asff', 'ocsf']) {
      let out = '';
      const code = await main(
        ['node', 'account-auditor', 'run', '--demo', '--no-store', '--format', format, '--quiet', '--fail-on', 'none'],
        { stdout: (t) => (out += t), stderr: () => {} },
      );
      expect(code).toBe(0);
      const parsed = JSON.parse(out) as unknown[];
      expect(parsed.length).toBeGreaterThan(10);
      if (format === 'asff') for (const f of parsed) validateAsff(f);
      else parsed.forEach(expectOcsfValid);
    }
  });

  it('OCSF metadata.product.version is the package version', () => {
    expect(PRODUCT_VERSION).toBe(pkg.version);
  });
});

const stored = (overrides: Partial<StoredFinding> = {}): StoredFinding => ({
  id: '123456789012#user-full-access#arn:aws:iam::123456789012:user/alice',
  accountId: '123456789012',
  checkId: 'user-full-access',
  resource: 'arn:aws:iam::123456789012:user/alice',
  status: 'FAIL',
  severity: 'high',
  title: 'alice has full access',
  details: {},
  firstSeen: '2026-11-01T00:00:00.000Z',
  lastSeen: '2026-11-02T00:00:00.000Z',
  lastChanged: '2026-11-01T00:00:00.000Z',
  resolvedAt: null,
  runId: 'r1',
  mute: null,
  ...overrides,
});

function refusal(finding: unknown): AsffValidationError {
  try {
    validateAsff(finding);
  } catch (error) {
    if (error instanceof AsffValidationError) return error;
    throw error;
  }
  throw new Error('the validator accepted it');
}

describe('workflow and record state', () => {
  it('a new muted finding is SUPPRESSED; an open, regressed or stored one carries no Workflow; only a resolved one is ARCHIVED', () => {
    const mute = { reason: 'break-glass', expires: null, check: 'user-full-access', resource: '*' };
    expect(toAsff({ state: stored({ mute }), change: 'new' }, TARGET).Workflow).toEqual({ Status: 'SUPPRESSED' });
    expect(toAsff({ state: stored({ mute }), change: 'new' }, TARGET).ProductFields['accountAuditor/mutedBecause']).toBe('break-glass');
    for (const change of ['open', 'regressed', null] as const) {
      const f = toAsff({ state: stored(), change }, TARGET);
      expect(f.Workflow).toBeUndefined();
      expect(f.RecordState).toBe('ACTIVE');
    }
    const resolved = toAsff({ state: stored({ status: 'PASS', resolvedAt: '2026-11-02T00:00:00.000Z' }), change: 'resolved' }, TARGET);
    expect(resolved).toMatchObject({
      RecordState: 'ARCHIVED',
      Compliance: { Status: 'PASSED' },
      FirstObservedAt: '2026-11-01T00:00:00.000Z',
    });
    expect(toAsff({ state: stored({ status: 'ERROR' }), change: 'open' }, TARGET).Compliance.Status).toBe('NOT_AVAILABLE');
  });
});

describe('the ASFF validator refuses what Security Hub would, naming the finding and the field', () => {
  const good: AsffFinding = toValidAsff({ state: stored(), change: 'new' }, TARGET);

  it('a 2,000-character description', () => {
    const error = refusal({ ...good, Description: 'x'.repeat(2000) });
    expect(error.field).toBe('Description');
    expect(error.findingId).toBe(good.Id);
    expect(error.message).toContain(good.Id);
    expect(error.message).toMatch(/Description is 2000 characters long; the limit is 1024/);
  });

  it('a Types entry outside Security Hub namespace/category/classifier', () => {
    for (const bad of [
      'Compliance/CIS',
      'Software and Configuration Checks/a/b/c',
      'Software and Configuration Checks//x',
      'software and configuration checks/x',
    ]) {
      const error = refusal({ ...good, Types: [good.Types[0], bad] });
      expect(error.field).toBe('Types[1]');
      expect(error.message).toContain(JSON.stringify(bad));
    }
  });

  it('other limits: Title, ProductArn of another account, timestamps, severity, resource type, empty Resources', () => {
    expect(refusal({ ...good, Title: 't'.repeat(257) }).field).toBe('Title');
    expect(refusal({ ...good, ProductArn: productArn({ ...TARGET, accountId: '210987654321' }) }).field).toBe('ProductArn');
    expect(refusal({ ...good, CreatedAt: '2026-11-01' }).field).toBe('CreatedAt');
    expect(refusal({ ...good, Severity: { Label: 'SEVERE' } }).field).toBe('Severity.Label');
    expect(refusal({ ...good, Resources: [{ ...good.Resources[0], Type: 'AwsIamGroupish' }] }).field).toBe('Resources[0].Type');
    expect(refusal({ ...good, Resources: [] }).field).toBe('Resources');
    expect(refusal({ ...good, Compliance: { Status: 'FAIL' } }).field).toBe('Compliance.Status');
    expect(refusal({ ...good, Title: 'a\u0000b' }).field).toBe('Title');
  });

  it('a finding ID Security Hub cannot hold (over 512 characters, a control character) becomes a stable, unique hashed one', () => {
    expect(asffId('a\u0000b')).toMatch(/^a b#sha256:[0-9a-f]{64}$/);
    expect(asffId('x'.repeat(600))).toHaveLength(512);
    expect(asffId('x'.repeat(600))).toBe(asffId('x'.repeat(600)));
    expect(asffId('x'.repeat(600))).not.toBe(asffId(`${'x'.repeat(599)}y`));
  });
});

describe('hostile titles and details keep the output valid', () => {
  const hostile = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 3000 }),
    fc.string({ unit: 'grapheme', maxLength: 400 }),
    fc.constantFrom('', ' ', '\n\t', '\u0000', '\ud800', '😀'.repeat(700), '"}],\\', 'x'.repeat(5000)),
  );
  const finding = fc.record({
    checkId: fc.constantFrom(...CHECK_IDS),
    status: fc.constantFrom(...STATUSES),
    severity: fc.constantFrom(...SEVERITIES),
    change: fc.constantFrom<Change | null>('new', 'regressed', 'open', 'resolved', 'unchanged', null),
    title: hostile,
    resourceName: hostile,
    details: fc.dictionary(hostile, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 }),
    muteReason: fc.option(hostile, { nil: undefined }),
    first: fc.date({ min: new Date('2020-01-01'), max: new Date('2026-06-01'), noInvalidDate: true }),
    later: fc.integer({ min: 0, max: 10 ** 10 }),
  });

  it('every generated finding passes the ASFF validator and the OCSF schema', () => {
    fc.assert(
      fc.property(finding, (g) => {
        const resource = `arn:aws:iam::123456789012:user/${g.resourceName}`;
        const item: ExportedFinding = {
          change: g.change,
          state: stored({
            id: `123456789012#${g.checkId}#${resource}`,
            checkId: g.checkId,
            resource,
            status: g.status,
            severity: g.severity,
            title: g.title,
            details: g.details,
            firstSeen: g.first.toISOString(),
            lastSeen: new Date(g.first.getTime() + g.later).toISOString(),
            mute: g.muteReason === undefined ? null : { reason: g.muteReason, expires: null, check: g.checkId, resource },
          }),
        };
        const asff = toValidAsff(item, TARGET);
        expect(asff.FirstObservedAt).toBe(item.state.firstSeen);
        const event = toOcsf(item, OCSF_CONTEXT);
        // The event must survive JSON (what --format ocsf prints) and still match the schema.
        expectOcsfValid(JSON.parse(JSON.stringify(event)));
      }),
      { numRuns: 200 },
    );
  });
});
