/**
 * The command line with state: the local embedded store on disk (dynalite), "new since last run",
 * the commands that read state back, the demo, and publishing to a (mocked) SNS topic.
 */
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mockClient } from 'aws-sdk-client-mock';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { DEMO_DIR, DEMO_NEXT_DIR } from '#lib/cli/main.ts';
import { runCli } from '#test/cli.ts';

const cli = (...args: string[]) => runCli(args);

interface RunJson {
  run: { runId: string; counts: { new: number; resolved: number; open: number; regressed: number } };
  findings: { id: string; change: string; status: string; resource: string }[];
  resolved: { id: string }[];
}

let stateDir: string;
beforeEach(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'aa-state-'));
});
afterEach(async () => {
  await rm(stateDir, { recursive: true, force: true });
});

describe('local state', () => {
  it('the second run of the same account says 0 new, and the state folder survives between runs', async () => {
    const first = await cli('run', '--demo', '--state-dir', stateDir);
    expect(first.stdout).toMatch(/since the last run \(state in .*\): 14 new, 0 regressed, 0 resolved · 14 open/);
    expect((await readdir(stateDir)).length).toBeGreaterThan(0);
    const second = await cli('run', '--demo', '--state-dir', stateDir);
    expect(second.stdout).toMatch(/: 0 new, 0 regressed, 0 resolved · 14 open/);
  });

  it('--format json: the run carries its ID and the new, resolved and open counts; findings carry their change', async () => {
    const first = JSON.parse((await cli('run', '--from', DEMO_DIR, '--state-dir', stateDir, '--format', 'json')).stdout) as RunJson;
    expect(first.run.runId).toMatch(/^\d{8}T/);
    expect(first.run.counts).toMatchObject({ new: 14, resolved: 0, open: 14 });
    const next = JSON.parse((await cli('run', '--from', DEMO_NEXT_DIR, '--state-dir', stateDir, '--format', 'json')).stdout) as RunJson;
    expect(next.run.runId).not.toBe(first.run.runId);
    expect(next.run.counts).toMatchObject({ new: 1, resolved: 1, open: 14 });
    expect(next.findings.filter((f) => f.change === 'new').map((f) => f.resource)).toEqual(['arn:aws:iam::123456789012:user/zoe']);
    expect(next.findings.filter((f) => f.change === 'resolved').map((f) => f.resource)).toEqual([
      'arn:aws:iam::123456789012:user/service/legacy-etl#access_key_1',
    ]);
  });

  it('an older snapshot audited after a newer one does not overwrite the newer state', async () => {
    await cli('run', '--from', DEMO_NEXT_DIR, '--state-dir', stateDir, '--format', 'json');
    const stale = await cli('run', '--from', DEMO_DIR, '--state-dir', stateDir);
    expect(stale.stdout).toMatch(/not saved: a newer run already stored them/);
    // Nor does it report the newer state's differences as news.
    expect(stale.stdout).toMatch(/: 0 new, 0 regressed, 0 resolved/);
    const open = JSON.parse((await cli('findings', '--state-dir', stateDir, '--format', 'json')).stdout) as { resource: string }[];
    // zoe is an admin in the newer snapshot only: still open after the older one ran.
    expect(open.map((f) => f.resource)).toContain('arn:aws:iam::123456789012:user/zoe');
  });

  it('--no-store keeps nothing and says so', async () => {
    const { stdout } = await cli('run', '--demo', '--no-store');
    expect(stdout).toContain('state not kept (--no-store)');
  });

  it('a second process on the same state folder is refused with a clear message, not a crash', async () => {
    const { startLocalStore } = await import('#lib/store/local.ts');
    const held = await startLocalStore(stateDir);
    try {
      const { code, stderr } = await cli('run', '--demo', '--state-dir', stateDir);
      expect(code).toBe(2);
      expect(stderr).toContain(stateDir);
    } finally {
      await held.close();
    }
  });
});

describe('reading state back', () => {
  beforeEach(async () => {
    await cli('run', '--from', DEMO_DIR, '--state-dir', stateDir, '--quiet');
    await cli('run', '--from', DEMO_NEXT_DIR, '--state-dir', stateDir, '--quiet');
  });

  it('findings: the open findings, most severe first, filterable by severity and check', async () => {
    const all = JSON.parse((await cli('findings', '--state-dir', stateDir, '--format', 'json')).stdout) as {
      severity: string;
      checkId: string;
      status: string;
    }[];
    expect(all).toHaveLength(14);
    expect(all[0]!.severity).toBe('critical');
    expect(all.every((f) => f.status !== 'PASS')).toBe(true);
    const critical = JSON.parse((await cli('findings', '--state-dir', stateDir, '--format', 'json', '--severity', 'critical')).stdout) as {
      severity: string;
    }[];
    expect(critical.map((f) => f.severity)).toEqual(['critical', 'critical', 'critical', 'critical']);
    const dax = JSON.parse((await cli('findings', '--state-dir', stateDir, '--format', 'json', '--check', 'dax-service-role')).stdout) as {
      checkId: string;
    }[];
    expect(dax.map((f) => f.checkId)).toEqual(['dax-service-role']);
    const table = await cli('findings', '--state-dir', stateDir);
    expect(table.stdout).toContain('zoe has full access');
  });

  it('runs: the latest runs, newest first', async () => {
    const runs = JSON.parse((await cli('runs', '--state-dir', stateDir, '--format', 'json')).stdout) as {
      collectedAt: string;
      counts: { new: number };
    }[];
    expect(runs.map((r) => r.collectedAt)).toEqual(['2026-11-02T00:00:00.000Z', '2026-11-01T00:00:00.000Z']);
    expect(runs.map((r) => r.counts.new)).toEqual([1, 14]);
    expect((await cli('runs', '--state-dir', stateDir, '--limit', '1', '--format', 'json')).stdout).not.toContain(
      '2026-11-01T00:00:00.000Z"',
    );
  });

  it('history <finding-id>: every change of status, oldest first', async () => {
    const id = '123456789012#access-key-age#arn:aws:iam::123456789012:user/service/legacy-etl#access_key_1';
    const entries = JSON.parse((await cli('history', id, '--state-dir', stateDir, '--format', 'json')).stdout) as {
      change: string;
      status: string;
      at: string;
    }[];
    expect(entries.map((e) => [e.at, e.change, e.status])).toEqual([
      ['2026-11-01T00:00:00.000Z', 'new', 'FAIL'],
      ['2026-11-02T00:00:00.000Z', 'resolved', 'PASS'],
    ]);
    expect((await cli('history', id, '--state-dir', stateDir)).stdout).toContain('FAIL → PASS');
  });

  it('several accounts in one state: --account is required, and named', async () => {
    const other = join(stateDir, '..', `aa-other-${Date.now()}`);
    await cp(DEMO_DIR, other, { recursive: true });
    const { writeFile } = await import('node:fs/promises');
    await writeFile(
      join(other, 'caller-identity.json'),
      JSON.stringify({ UserId: 'AIDAX', Account: '210987654321', Arn: 'arn:aws:iam::210987654321:user/auditor' }),
    );
    // Every ARN in the export names the demo account; rewrite them so the export is consistent.
    for (const file of ['account-authorization-details.json', 'credential-report.json']) {
      const { readFile } = await import('node:fs/promises');
      let text = await readFile(join(other, file), 'utf8');
      if (file === 'credential-report.json') {
        const json = JSON.parse(text) as { Content: string };
        json.Content = Buffer.from(
          Buffer.from(json.Content, 'base64').toString('utf8').replaceAll('123456789012', '210987654321'),
        ).toString('base64');
        text = JSON.stringify(json);
      } else text = text.replaceAll('123456789012', '210987654321');
      await writeFile(join(other, file), text);
    }
    try {
      const run = await cli('run', '--from', other, '--state-dir', stateDir, '--quiet');
      expect(run.stderr).toBe('');
      const { code, stderr } = await cli('findings', '--state-dir', stateDir);
      expect(code).toBe(2);
      expect(stderr).toMatch(/several accounts .*123456789012.*210987654321|several accounts .*210987654321.*123456789012/);
      expect((await cli('findings', '--state-dir', stateDir, '--account', '210987654321')).code).toBe(0);
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  });
});

describe('demo and alerts', () => {
  const sns = mockClient(SNSClient);
  afterEach(() => sns.reset());

  it('demo: two nights, what is new and resolved, and the alert it would publish', async () => {
    const { code, stdout } = await cli('demo');
    expect(code).toBe(0);
    expect(stdout).toContain('# Night 1');
    for (const id of [
      'root-access-key',
      'access-key-age',
      'user-full-access',
      'elasticache-service-linked-role',
      'dax-service-role',
      'role-full-access',
    ])
      expect(stdout).toContain(`== ${id}`);
    expect(stdout).toMatch(/Night 2[\s\S]*1 new, 0 regressed, 1 resolved/);
    expect(stdout).toContain('Subject: account-auditor 123456789012: 1 new (1 critical)');
    expect(stdout).toMatch(/RESOLVED \(1\)/);
  });

  it('--topic publishes the alert when there is something new, and not when there is nothing to say', async () => {
    sns.on(PublishCommand).resolves({ MessageId: 'msg-1' });
    const topic = 'arn:aws:sns:eu-west-1:123456789012:audit-alerts';
    const first = await cli('run', '--demo', '--state-dir', stateDir, '--topic', topic);
    expect(first.stdout).toContain('alert published (SNS message msg-1)');
    const call = sns.commandCalls(PublishCommand)[0]!.args[0].input;
    expect(call).toMatchObject({ TopicArn: topic, MessageStructure: 'json' });
    expect(call.Subject!.length).toBeLessThanOrEqual(100);
    await cli('run', '--demo', '--state-dir', stateDir, '--topic', topic);
    expect(sns.commandCalls(PublishCommand)).toHaveLength(1);
  });

  it('a --topic that is not an SNS ARN is bad usage', async () => {
    const { code, stderr } = await cli('run', '--demo', '--no-store', '--topic', 'alerts');
    expect(code).toBe(2);
    expect(stderr).toContain('--topic must be an SNS topic ARN');
  });
});
