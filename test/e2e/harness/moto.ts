import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The moto AWS emulator as a test service: one `python3` process serving every emulated API on a
 * loopback port. Tests reach AWS only through it; see test/e2e/README.md for what moto does
 * differently from AWS and how the auditor treats each difference.
 */

const SERVER_SCRIPT = fileURLToPath(new URL('../moto/server.py', import.meta.url));
const PYTHON = process.env.E2E_PYTHON ?? 'python3';

/** The only account moto serves without Organizations: every ARN the tests expect carries it. */
export const ACCOUNT_ID = '123456789012';
export const REGION = 'us-east-1';

/** The AWS managed policies moto serves: the ones the seeded account uses, and some it does not. */
export const AWS_MANAGED_POLICIES = ['AdministratorAccess', 'ReadOnlyAccess', 'PowerUserAccess', 'SecurityAudit', 'IAMFullAccess'];

export class MotoUnavailableError extends Error {
  override name = 'MotoUnavailableError';
}

/**
 * Fails at once, naming what is missing, when `python3 -m moto.server` cannot run here: no
 * python3, or moto without its server extra (flask, werkzeug).
 */
export function assertMotoAvailable(): string {
  const probe = spawnSync(PYTHON, ['-c', 'import moto, moto.server, flask, werkzeug; print(moto.__version__)'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (probe.error) {
    throw new MotoUnavailableError(
      `the e2e tests need ${PYTHON} with moto's server (python3 -m moto.server), and ${PYTHON} could not be run: ${probe.error.message}. ` +
        `Install Python 3 and moto: pip install "moto[server]==5.2.1" (or set E2E_PYTHON to a Python that has it).`,
    );
  }
  if (probe.status !== 0) {
    throw new MotoUnavailableError(
      `the e2e tests need moto's server (python3 -m moto.server), which ${PYTHON} cannot import: ${probe.stderr.trim().split('\n').at(-1) || `exit status ${probe.status}`}. ` +
        `Install it with: pip install "moto[server]==5.2.1" (or set E2E_PYTHON to a Python that has it).`,
    );
  }
  return probe.stdout.trim();
}

export interface MotoServer {
  /** `http://127.0.0.1:<port>`: the value of AWS_ENDPOINT_URL. */
  endpoint: string;
  /** moto's request log (its recorder) is written here while recording. */
  recordingFile: string;
  stop(): Promise<void>;
}

/**
 * Starts moto's server application (test/e2e/moto/server.py) on a free loopback port. A few AWS
 * managed policies are loaded (AdministratorAccess can be attached, as in AWS); the recorder is
 * available but off until a test starts it.
 */
export async function startMoto(): Promise<MotoServer> {
  const version = assertMotoAvailable();
  const dir = await mkdtemp(join(tmpdir(), 'aa-moto-'));
  const recordingFile = join(dir, 'requests.jsonl');
  const child: ChildProcess = spawn(PYTHON, [SERVER_SCRIPT, '127.0.0.1'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH,
      HOME: dir,
      MOTO_IAM_LOAD_MANAGED_POLICIES: 'true',
      E2E_AWS_MANAGED_POLICIES: AWS_MANAGED_POLICIES.join(','),
      MOTO_RECORDER_FILEPATH: recordingFile,
      // moto never calls out, but nothing it runs may find real credentials either.
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      AWS_CONFIG_FILE: join(dir, 'none'),
      AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none'),
    },
  });
  // Never outlive the test run, even when it ends without its teardown.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new MotoUnavailableError(`moto ${version} did not start within 30 s: ${stderr}`)), 30_000);
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /PORT (\d+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new MotoUnavailableError(`moto ${version} exited (code ${code}) before listening: ${stderr}`));
    });
  });
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    recordingFile,
    async stop() {
      process.removeListener('exit', killOnExit);
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Refuses anything but a loopback endpoint: no test may reach real AWS. */
export function assertLoopback(endpoint: string | undefined): string {
  if (!endpoint)
    throw new Error(
      'the e2e tests run only against moto: no endpoint was provided (run them through vitest, whose global setup starts moto)',
    );
  const url = new URL(endpoint);
  if (url.hostname !== '127.0.0.1' || url.protocol !== 'http:')
    throw new Error(`refusing to run against ${endpoint}: the e2e tests only talk to moto on 127.0.0.1`);
  return endpoint;
}

async function post(endpoint: string, path: string, body: string, contentType: string): Promise<unknown> {
  const response = await fetch(`${assertLoopback(endpoint)}${path}`, { method: 'POST', headers: { 'content-type': contentType }, body });
  const text = await response.text();
  if (!response.ok) throw new Error(`moto ${path}: HTTP ${response.status}: ${text.slice(0, 500)}`);
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return text;
  }
}

/** Control of a running moto: state, IAM enforcement, request log and the test-only endpoints. */
export function motoControl(endpoint: string) {
  return {
    /** Forgets every account's state (users, tables, topics...). */
    reset: () => post(endpoint, '/moto-api/reset', '', 'text/plain'),
    /** IAM enforcement from the next request on (`0`), or never (`Infinity`). */
    enforceIam: (afterRequests: number) =>
      post(endpoint, '/moto-api/reset-auth', String(afterRequests === Infinity ? 'inf' : afterRequests), 'text/plain'),
    /**
     * Whether moto answers as AWS does where it does not by itself: GetAccountAuthorizationDetails
     * naming managed policies (PolicyName, PolicyId), GetCredentialReport dating the report it
     * built. Plain moto (`false`) is what moto-quirks.test.ts audits.
     */
    awsFidelity: (on: boolean) =>
      post(endpoint, '/e2e/fidelity', JSON.stringify({ managedPolicyNames: on, reportGeneratedTime: on }), 'application/json'),
    /** Moves an access key's creation date `days` into the past. */
    backdateAccessKey: (userName: string, accessKeyId: string, days: number) =>
      post(endpoint, '/e2e/backdate-access-key', JSON.stringify({ userName, accessKeyId, days }), 'application/json'),
    /** Every message published to the topic, whole, as moto recorded it (oldest first). */
    published: async (topicArn: string) =>
      (await post(endpoint, '/e2e/published', JSON.stringify({ topicArn }), 'application/json')) as {
        messageId: string;
        message: string;
        subject: string;
      }[],
    startRecording: async () => {
      await post(endpoint, '/moto-api/recorder/reset-recording', '', 'text/plain');
      await post(endpoint, '/moto-api/recorder/start-recording', '', 'text/plain');
    },
    stopRecording: () => post(endpoint, '/moto-api/recorder/stop-recording', '', 'text/plain'),
  };
}

export interface RecordedRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** One AWS call as moto logged it: the service signing it, and the operation. */
export interface RecordedCall {
  service: string;
  action: string;
  /** The access key that signed the call (its SigV4 credential scope): which account and session made it. */
  accessKeyId: string;
}

/** Reads moto's request log and names each call by its SigV4 service and its operation. */
export async function recordedCalls(recordingFile: string): Promise<RecordedCall[]> {
  let text = '';
  try {
    text = await readFile(recordingFile, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as RecordedRequest & { body_encoded?: boolean })
    .filter((r) => !new URL(r.url).pathname.startsWith('/moto-api/') && !new URL(r.url).pathname.startsWith('/e2e/'))
    .map((r) => {
      const headers = Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k.toLowerCase(), v]));
      const scope = /Credential=([^/]+)\/[^/]+\/[^/]+\/([^/]+)\//.exec(headers.authorization ?? '');
      const service = scope?.[2] ?? 'unknown';
      const body = r.body_encoded ? Buffer.from(r.body ?? '', 'base64').toString('utf8') : (r.body ?? '');
      const target = headers['x-amz-target'];
      const action = target
        ? target.split('.').at(-1)!
        : (new URLSearchParams(body).get('Action') ??
          new URL(r.url).searchParams.get('Action') ??
          `${r.method} ${new URL(r.url).pathname}`);
      return { service, action, accessKeyId: scope?.[1] ?? 'unknown' };
    });
}
