/**
 * CDK context `securityHub=true`: the setting on in AUDITOR_SETTINGS, securityhub:BatchImportFindings
 * on exactly the account's default product in the stack's region, and an alarm on findings not
 * imported. Without it, none of the three; a setting without the flag fails the synth.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { createAuditorApp } from '../../infra/auditor-app.ts';
import { ENV, METRIC } from '#lib/lambda/contract.ts';

/** CloudFormation JSON is untyped by nature. */
type Json = any;

const SLOW = 120_000;
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function synth(context: Record<string, unknown>): Promise<Template> {
  const outdir = await mkdtemp(join(tmpdir(), 'auditor-sechub-'));
  dirs.push(outdir);
  const { stack } = createAuditorApp({ outdir, context: { 'aws:cdk:bundling-stacks': [], ...context } });
  return Template.fromStack(stack);
}

const statements = (t: Template): Json[] =>
  Object.values(t.findResources('AWS::IAM::Role')).flatMap((r: Json) =>
    r.Properties.Policies.flatMap((p: Json) => p.PolicyDocument.Statement),
  );

describe('CDK context securityHub', () => {
  it(
    'true: the setting, the one write action on the default product, the alarm; cdk-nag still passes',
    async () => {
      const t = await synth({ securityHub: 'true' });
      const statement = statements(t).find((s) => s.Sid === 'SecurityHubImport');
      expect(statement).toEqual({
        Sid: 'SecurityHubImport',
        Effect: 'Allow',
        Action: 'securityhub:BatchImportFindings',
        Resource: {
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              ':securityhub:',
              { Ref: 'AWS::Region' },
              ':',
              { Ref: 'AWS::AccountId' },
              ':product/',
              { Ref: 'AWS::AccountId' },
              '/default',
            ],
          ],
        },
      });
      const fn = Object.values(t.findResources('AWS::Lambda::Function'))[0] as Json;
      const settings = JSON.stringify(fn.Properties.Environment.Variables[ENV.settings]);
      expect(settings).toContain('\\"securityHub\\":true');
      const alarms = Object.values(t.findResources('AWS::CloudWatch::Alarm')).filter(
        (a: Json) => a.Properties.MetricName === METRIC.securityHubFailed,
      ) as Json[];
      expect(alarms).toHaveLength(1);
      expect(alarms[0].Properties).toMatchObject({
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
        Statistic: 'Sum',
      });
      expect(alarms[0].Properties.AlarmActions).toHaveLength(1);
    },
    SLOW,
  );

  it(
    'absent: no Security Hub action anywhere, no alarm, the setting off',
    async () => {
      const t = await synth({});
      expect(JSON.stringify(statements(t))).not.toContain('securityhub');
      expect(
        Object.values(t.findResources('AWS::CloudWatch::Alarm')).some((a: Json) => a.Properties.MetricName === METRIC.securityHubFailed),
      ).toBe(false);
    },
    SLOW,
  );

  it(
    'a securityHub setting that disagrees with the flag fails the synth, naming both',
    async () => {
      await expect(synth({ settings: '{"securityHub":true}' })).rejects.toThrow(
        /settings.securityHub is true but context securityHub is false/,
      );
      await expect(synth({ securityHub: 'yes' })).rejects.toThrow(/context securityHub must be true or false/);
    },
    SLOW,
  );
});
