import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleHandler, type BundleResult } from '../../infra/bundling.ts';
import { ENV, HANDLER_EXPORT } from '#lib/lambda/contract.ts';

/**
 * The deployed artifact itself, built with the stack's esbuild options and run in a plain `node`
 * process: a bundling mistake (a missing module, a CommonJS `require` in the ESM output, the local
 * store's native LevelDB pulled in) fails CI here rather than on the first night in Lambda.
 */

const MAX_BYTES = 2 * 1024 * 1024;

let dir: string;
let bundle: BundleResult;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'auditor-bundle-'));
  bundle = await bundleHandler(dir);
}, 120_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * Imports the bundle in a fresh `node` and calls its handler once. The environment is built from
 * scratch: dummy credentials, no config files, no instance metadata, and every SDK endpoint on a
 * closed loopback port, so even a call that should not happen could not leave the machine.
 */
async function invoke(event: unknown): Promise<{ ok: true; result: unknown } | { ok: false; name: string; message: string }> {
  const resultFile = join(dir, `result-${Date.now()}.json`);
  const script = `
    import { writeFileSync } from 'node:fs';
    const [moduleUrl, event, resultFile] = process.argv.slice(1);
    const context = {
      functionName: 'account-auditor-test', functionVersion: '$LATEST', memoryLimitInMB: '1024',
      invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:account-auditor-test',
      awsRequestId: '00000000-0000-4000-8000-000000000000', logGroupName: '/aws/lambda/account-auditor-test',
      logStreamName: 'test', callbackWaitsForEmptyEventLoop: true, getRemainingTimeInMillis: () => 600000,
      done() {}, fail() {}, succeed() {},
    };
    const mod = await import(moduleUrl);
    try {
      const result = await mod[${JSON.stringify(HANDLER_EXPORT)}](JSON.parse(event), context);
      writeFileSync(resultFile, JSON.stringify({ ok: true, result }));
    } catch (error) {
      writeFileSync(resultFile, JSON.stringify({ ok: false, name: error.name, message: error.message }));
    }
  `;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: dir,
    [ENV.tableName]: 'account-auditor-test',
    [ENV.topicArn]: 'arn:aws:sns:eu-west-1:123456789012:account-auditor-test',
    [ENV.settings]: JSON.stringify({ regions: ['eu-west-1'] }),
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: join(dir, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-aws-credentials'),
    AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
    POWERTOOLS_SERVICE_NAME: 'account-auditor',
    POWERTOOLS_METRICS_NAMESPACE: 'AccountAuditor',
    NODE_OPTIONS: '--enable-source-maps',
  };
  await promisify(execFile)(
    process.execPath,
    ['--input-type=module', '--eval', script, pathToFileURL(bundle.file).href, JSON.stringify(event), resultFile],
    { env, timeout: 60_000 },
  );
  return JSON.parse(await readFile(resultFile, 'utf8'));
}

describe('the Lambda bundle', () => {
  it('is a single ESM file under 2 MB that imports nothing but Node.js built-ins (the AWS SDK is inside)', () => {
    expect(bundle.file.endsWith('index.mjs')).toBe(true);
    expect(bundle.bytes).toBeGreaterThan(0);
    expect(bundle.bytes).toBeLessThan(MAX_BYTES);
    expect(bundle.externals.filter((specifier) => !isBuiltin(specifier))).toEqual([]);
    expect(bundle.inputs.some((path) => path.startsWith('node_modules/@aws-sdk/client-iam/'))).toBe(true);
  });

  it('leaves out the local store: no dynalite, no LevelDB, no lib/store/local.ts', async () => {
    const local = bundle.inputs.filter((path) =>
      /(^|\/)(dynalite|classic-level|leveldown|levelup|abstract-level|level|memdown)\/|lib\/store\/local\.ts$|lib\/cli\//.test(path),
    );
    expect(local).toEqual([]);
    const code = await readFile(bundle.file, 'utf8');
    expect(code).not.toMatch(/dynalite|classic-level|leveldown/i);
  });

  it('loads in plain node and rejects a malformed on-demand payload, naming the field, before any AWS call', async () => {
    const outcome = await invoke({ settings: { maxKeyAgeDays: -1 } });
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.name).toBe('PayloadError');
    expect(outcome.message).toMatch(/maxKeyAgeDays/);
  }, 60_000);
});
