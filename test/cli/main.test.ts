import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '#test/cli.ts';

async function cli(...args: string[]) {
  // Tests never touch the state folder of the checkout: runs keep no state unless a test says where.
  return runCli(args[0] === 'run' && !args.includes('--state-dir') ? [...args, '--no-store'] : args);
}

describe('account-auditor run --demo', () => {
  it('the table lists all six checks, with PASS and FAIL findings, and exits 1 on FAIL at or above high', async () => {
    const { code, stdout } = await cli('run', '--demo');
    for (const id of [
      'root-access-key',
      'access-key-age',
      'user-full-access',
      'elasticache-service-linked-role',
      'dax-service-role',
      'role-full-access',
    ]) {
      expect(stdout).toContain(`== ${id}`);
    }
    expect(stdout).toMatch(/\bPASS\b/);
    expect(stdout).toMatch(/\bFAIL\b/);
    expect(code).toBe(1);
  });

  it('--fail-on none exits 0 on the demo (which has FAILs but no ERROR)', async () => {
    expect((await cli('run', '--demo', '--fail-on', 'none')).code).toBe(0);
  });

  it('--format json prints only JSON on stdout: { run, findings } with stable IDs', async () => {
    const { stdout } = await cli('run', '--demo', '--format', 'json');
    const parsed = JSON.parse(stdout) as { run: Record<string, unknown>; findings: Record<string, unknown>[] };
    expect(Object.keys(parsed)).toEqual(['run', 'findings', 'resolved']);
    expect(parsed.run).toMatchObject({ accountId: '123456789012', origin: 'demo', complete: true });
    expect(parsed.findings.length).toBeGreaterThan(5);
    for (const f of parsed.findings) {
      expect(f).toEqual(
        expect.objectContaining({
          id: `${f.accountId}#${f.checkId}#${f.resource}`,
          status: expect.any(String),
          severity: expect.any(String),
          title: expect.any(String),
          details: expect.any(Object),
        }),
      );
    }
  });

  it('--format csv has a header and one row per finding', async () => {
    const json = JSON.parse((await cli('run', '--demo', '--format', 'json')).stdout) as { findings: unknown[] };
    const { stdout } = await cli('run', '--demo', '--format', 'csv');
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toBe('id,accountId,checkId,status,severity,change,resource,title,details');
    // Rows can hold quoted newlines only in details; the demo has none, so lines = rows.
    expect(lines.length - 1).toBe(json.findings.length);
  });

  it('--checks narrows the run and --max-key-age changes the verdicts', async () => {
    const strict = JSON.parse(
      (await cli('run', '--demo', '--format', 'json', '--checks', 'access-key-age', '--max-key-age', '1')).stdout,
    ) as {
      run: { checks: string[] };
      findings: { checkId: string; status: string }[];
    };
    expect(strict.run.checks).toEqual(['access-key-age']);
    expect(new Set(strict.findings.map((f) => f.checkId))).toEqual(new Set(['access-key-age']));
    const lenient = JSON.parse(
      (await cli('run', '--demo', '--format', 'json', '--checks', 'access-key-age', '--max-key-age', '3650', '--warn-key-age', '3650'))
        .stdout,
    ) as {
      findings: { status: string }[];
    };
    const fails = (r: { findings: { status: string }[] }) => r.findings.filter((f) => f.status === 'FAIL').length;
    expect(fails(strict)).toBeGreaterThan(fails(lenient));
    expect(fails(lenient)).toBe(0);
  });
});

describe('bad usage exits 2 with a message naming the problem', () => {
  it.each([
    [['run', '--demo', '--checks', 'no-such-check'], /checks/],
    [['run', '--demo', '--max-key-age', '-5'], /maxKeyAgeDays/],
    [['run', '--demo', '--max-key-age', 'ten'], /whole number/],
    [['run', '--demo', '--warn-key-age', '100'], /warnKeyAgeDays must not exceed maxKeyAgeDays/],
    [['run', '--demo', '--format', 'xml'], /xml/],
    [['run', '--demo', '--from', '/tmp'], /either --demo or --from/],
    [['run', '--bogus'], /unknown option/],
    [['run', '--from', '/nonexistent/account-export'], /nonexistent/],
  ])('%j', async (args, message) => {
    const { code, stdout, stderr } = await cli(...args);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
    expect(stdout).toBe('');
  });

  it('a config file that is not JSON is named', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aa-config-'));
    const file = join(dir, 'settings.json');
    await writeFile(file, '{ maxKeyAgeDays: 30 ');
    const { code, stderr } = await cli('run', '--demo', '--config', file);
    expect(code).toBe(2);
    expect(stderr).toContain(file);
  });

  it('a config file with an unknown setting is rejected, naming it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aa-config-'));
    const file = join(dir, 'settings.json');
    await writeFile(file, JSON.stringify({ maxKeyAgeDays: 30, warnKeyAgeDays: 20, tableName: 'x' }));
    const { code, stderr } = await cli('run', '--demo', '--config', file);
    expect(code).toBe(2);
    expect(stderr).toContain('tableName');
  });
});

describe('files and checks', () => {
  it('files lists every export with the CLI command that makes it', async () => {
    const { code, stdout } = await cli('files');
    expect(code).toBe(0);
    expect(stdout).toContain('aws iam get-account-authorization-details');
    expect(stdout).toContain('aws iam get-credential-report');
  });

  it('checks lists the six checks, and the organization mode one', async () => {
    const { stdout } = await cli('checks');
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(7);
    expect(lines[6]).toMatch(/^organization \[high\] .*\(organization mode only\)$/);
  });
});

describe('--version', () => {
  it("prints package.json's version and exits 0; the help text does not list it", async () => {
    const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) expect(await cli(flag)).toEqual({ code: 0, stdout: `${pkg.version}\n`, stderr: '' });
    expect((await cli('--help')).stdout).not.toContain('--version');
  });
});
