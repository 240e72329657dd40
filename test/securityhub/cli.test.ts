/**
 * The command line's Security Hub and export options: `run --security-hub` refuses what cannot
 * keep firstSeen (no state) or is not the user's account (the demo); `findings --format asff|ocsf`
 * prints the stored open findings, FirstObservedAt being their stored firstSeen.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DEMO_DIR, main } from '#lib/cli/main.ts';
import { validateAsff, type AsffFinding } from '#lib/export/asff.ts';
import type { OcsfComplianceFinding } from '#lib/export/ocsf.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aa-sechub-cli-'));
  // No region, no credentials from this machine: nothing here may reach AWS.
  vi.stubEnv('AWS_REGION', '');
  vi.stubEnv('AWS_DEFAULT_REGION', '');
  vi.stubEnv('AWS_PROFILE', '');
  vi.stubEnv('AWS_CONFIG_FILE', join(dir, 'no-config'));
  vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', join(dir, 'no-credentials'));
  vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
});
afterEach(async () => {
  vi.unstubAllEnvs();
  await rm(dir, { recursive: true, force: true });
});

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(['node', 'account-auditor', ...args], { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

describe('run --security-hub', () => {
  it('refuses the demo account, --no-store, and a missing region, before auditing anything', async () => {
    expect(await cli('run', '--demo', '--security-hub', '--state-dir', join(dir, 's'))).toMatchObject({
      code: 2,
      stdout: '',
      stderr: expect.stringContaining('not the demo account'),
    });
    expect(await cli('run', '--from', DEMO_DIR, '--security-hub', '--no-store')).toMatchObject({
      code: 2,
      stdout: '',
      stderr: expect.stringContaining('needs the state'),
    });
    expect(await cli('run', '--from', DEMO_DIR, '--security-hub', '--state-dir', join(dir, 's'))).toMatchObject({
      code: 2,
      stdout: '',
      stderr: expect.stringContaining('needs a region'),
    });
    // A settings file turning it on is the same as the flag.
    await writeFile(join(dir, 'settings.json'), JSON.stringify({ securityHub: true }));
    expect(await cli('run', '--demo', '--config', join(dir, 'settings.json'), '--state-dir', join(dir, 's'))).toMatchObject({
      code: 2,
      stdout: '',
      stderr: expect.stringContaining('not the demo account'),
    });
  });
});

describe('findings --format asff|ocsf', () => {
  it('prints the stored open findings with their stored firstSeen', async () => {
    const state = join(dir, 'state');
    expect((await cli('run', '--demo', '--quiet', '--fail-on', 'none', '--state-dir', state)).code).toBe(0);
    const stored = JSON.parse((await cli('findings', '--format', 'json', '--state-dir', state)).stdout) as {
      id: string;
      firstSeen: string;
    }[];
    expect(stored.length).toBeGreaterThan(5);

    // Without a region there is no ProductArn to write.
    expect(await cli('findings', '--format', 'asff', '--state-dir', state)).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('needs a region'),
    });
    vi.stubEnv('AWS_REGION', 'eu-west-1');
    const asff = JSON.parse((await cli('findings', '--format', 'asff', '--state-dir', state)).stdout) as AsffFinding[];
    expect(asff.map((f) => f.Id).sort()).toEqual(stored.map((f) => f.id).sort());
    for (const f of asff) {
      validateAsff(f);
      expect(f.ProductArn).toBe('arn:aws:securityhub:eu-west-1:123456789012:product/123456789012/default');
      expect(f.FirstObservedAt).toBe(stored.find((s) => s.id === f.Id)!.firstSeen);
      expect(f.RecordState).toBe('ACTIVE');
      expect(f.Workflow).toBeUndefined();
    }
    const ocsf = JSON.parse((await cli('findings', '--format', 'ocsf', '--state-dir', state)).stdout) as OcsfComplianceFinding[];
    expect(ocsf.map((e) => e.finding_info.uid).sort()).toEqual(stored.map((f) => f.id).sort());
    expect(new Set(ocsf.map((e) => e.class_uid))).toEqual(new Set([2003]));
  });
});
