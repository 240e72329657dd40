/**
 * The benchmark must never reach AWS or any other non-loopback address: fake credentials and
 * region, no instance metadata, no config files, and a socket guard that refuses any TCP
 * connection that is not to loopback (dynalite listens on 127.0.0.1).
 */
import net from 'node:net';

export const SAFE_ENV: Record<string, string> = {
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_ACCESS_KEY_ID: 'AKIABENCHMARKFAKE000',
  AWS_SECRET_ACCESS_KEY: 'benchmark-fake-secret',
  AWS_REGION: 'eu-west-1',
  AWS_DEFAULT_REGION: 'eu-west-1',
  AWS_CONFIG_FILE: '/nonexistent/account-auditor-bench/config',
  AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/account-auditor-bench/credentials',
};

export function safeEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...SAFE_ENV, ...extra };
  delete env.AWS_PROFILE;
  delete env.AWS_SESSION_TOKEN;
  delete env.AWS_CONTAINER_CREDENTIALS_FULL_URI;
  delete env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI;
  delete env.AWS_WEB_IDENTITY_TOKEN_FILE;
  return env;
}

const LOOPBACK = /^(127\.|::1$|localhost$|::ffff:127\.)/;

/** Applies SAFE_ENV to this process and refuses non-loopback TCP connections. */
export function guardNetwork(): void {
  Object.assign(process.env, SAFE_ENV);
  delete process.env.AWS_PROFILE;
  const original = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]) {
    const first = args[0] as { host?: string; path?: string; port?: number } | number | string;
    const host =
      typeof first === 'object' && first !== null
        ? first.path
          ? 'localhost'
          : (first.host ?? 'localhost')
        : typeof first === 'number'
          ? String(args[1] ?? 'localhost')
          : 'localhost';
    if (!LOOPBACK.test(host)) throw new Error(`benchmark safety: refusing a connection to ${host} (only loopback is allowed)`);
    return (original as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof original;
}
