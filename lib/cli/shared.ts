import { fileURLToPath } from 'node:url';
import { type Command, InvalidArgumentError } from 'commander';
import type { Severity } from '#lib/model/finding.ts';
import type { StateFlags } from './state.ts';

/**
 * What the commands share. Only light modules are imported here and at the top of each command
 * file, because every command's definition is loaded for every call (`--help` lists them all);
 * an action imports what it works with when it runs.
 */

/**
 * The bundled demo account, in the offline export format, and the same account one night later.
 * The CLI bundle is written to dist/cli/, as deep below the root as this file, so the same
 * relative path holds in the sources and in the bundle.
 */
export const DEMO_DIR = fileURLToPath(new URL('../../examples/demo-account', import.meta.url));
export const DEMO_NEXT_DIR = fileURLToPath(new URL('../../examples/demo-account-next', import.meta.url));
/** The bundled demo organization (an organization export: `run --org --demo`). */
export const DEMO_ORGANIZATION_DIR = fileURLToPath(new URL('../../examples/demo-organization', import.meta.url));

/** Bad usage: exits 2, like an audit that could not complete, and never prints findings. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  columns?: number;
}

export const processIo: Io = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  ...(process.stdout.columns ? { columns: process.stdout.columns } : {}),
};

/** How a command reaches the output and hands its exit code to `main`. */
export interface CommandContext {
  io: Io;
  done: (code: Promise<number>) => void;
}

export function integer(value: string): number {
  if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError('must be a whole number');
  return Number(value);
}

export function list(value: string, previous: string[] = []): string[] {
  return [
    ...previous,
    ...value
      .split(',')
      .map((v) => v.trim())
      .filter(Boolean),
  ];
}

/** Options every command that touches state shares. */
export function stateOptions(command: Command): Command {
  return command
    .option('--state-dir <dir>', 'local state folder (default: .account-auditor in the current folder)')
    .option('--table <name>', 'keep state in this DynamoDB table instead (default credential chain and region)')
    .option('--profile <name>', 'AWS profile to use (default: the SDK default credential chain)');
}

export interface RunFlags extends StateFlags {
  region?: string[];
  regions?: string[];
  checks?: string[];
  maxKeyAge?: number;
  warnKeyAge?: number;
  keyIdLookups?: number;
  reportWait?: number;
  config?: string;
  from?: string;
  demo?: boolean;
  topic?: string;
  showAlert?: boolean;
  format: 'table' | 'json' | 'csv' | 'asff' | 'ocsf';
  securityHub?: boolean;
  failOn: Severity | 'none';
  all?: boolean;
  quiet?: boolean;
}

/** `run --org`'s own options: what to audit in the organization, and how. */
export interface OrganizationFlags {
  org?: boolean;
  accounts?: string[];
  excludeAccounts?: string[];
  ous?: string[];
  excludeOus?: string[];
  roleName?: string;
  externalId?: string;
  managementRoleArn?: string;
  concurrency?: number;
}

/** The options that mean something only with --org, as the user spells them. */
export const ORGANIZATION_FLAGS: readonly [keyof OrganizationFlags, string][] = [
  ['accounts', '--accounts'],
  ['excludeAccounts', '--exclude-accounts'],
  ['ous', '--ous'],
  ['excludeOus', '--exclude-ous'],
  ['roleName', '--role-name'],
  ['externalId', '--external-id'],
  ['managementRoleArn', '--management-role-arn'],
  ['concurrency', '--concurrency'],
];

export interface ReadFlags extends StateFlags {
  account?: string;
  format: 'table' | 'json' | 'asff' | 'ocsf';
}
