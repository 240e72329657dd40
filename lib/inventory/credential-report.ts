import { parse } from 'csv-parse/sync';
import type { CredentialReport, CredentialReportKey, CredentialReportRow, KeySlotName } from './types.ts';

export class CredentialReportFormatError extends Error {
  override name = 'CredentialReportFormatError';
}

/** Columns the checks read; AWS adds columns over time, so others are ignored, but these must be there. */
const REQUIRED_COLUMNS = [
  'user',
  'arn',
  'user_creation_time',
  'password_enabled',
  'mfa_active',
  ...(['access_key_1', 'access_key_2'] as const).flatMap((slot) => [
    `${slot}_active`,
    `${slot}_last_rotated`,
    `${slot}_last_used_date`,
    `${slot}_last_used_region`,
    `${slot}_last_used_service`,
  ]),
];

/** Values AWS writes where there is nothing: `N/A`, `not_supported` (root password), `no_information`. */
const EMPTY_VALUES = new Set(['', 'N/A', 'not_supported', 'no_information']);

function fail(line: number, column: string, message: string): never {
  throw new CredentialReportFormatError(`credential report line ${line}, column ${column}: ${message}`);
}

function dateOrNull(value: string | undefined, line: number, column: string): string | null {
  if (value === undefined || EMPTY_VALUES.has(value)) return null;
  const time = Date.parse(value);
  if (Number.isNaN(time)) fail(line, column, `not a date: ${JSON.stringify(value)}`);
  return new Date(time).toISOString();
}

function textOrNull(value: string | undefined): string | null {
  return value === undefined || EMPTY_VALUES.has(value) ? null : value;
}

function boolOrNull(value: string | undefined, line: number, column: string): boolean | null {
  if (value === undefined || EMPTY_VALUES.has(value)) return null;
  if (value === 'true') return true;
  if (value === 'false') return false;
  return fail(line, column, `expected true or false, got ${JSON.stringify(value)}`);
}

function keySlot(record: Record<string, string>, slot: KeySlotName, line: number): CredentialReportKey {
  // An `active` value we cannot read must not turn into "inactive": that would hide a key.
  const active = boolOrNull(record[`${slot}_active`], line, `${slot}_active`);
  return {
    slot,
    active: active ?? fail(line, `${slot}_active`, 'missing value'),
    lastRotated: dateOrNull(record[`${slot}_last_rotated`], line, `${slot}_last_rotated`),
    lastUsedDate: dateOrNull(record[`${slot}_last_used_date`], line, `${slot}_last_used_date`),
    lastUsedRegion: textOrNull(record[`${slot}_last_used_region`]),
    lastUsedService: textOrNull(record[`${slot}_last_used_service`]),
  };
}

/**
 * The header as column names, refusing a name that appears twice: records are keyed by name, so
 * the last of two `access_key_1_active` columns would silently win and could hide an active key.
 */
function uniqueColumns(header: string[]): string[] {
  const seen = new Set<string>();
  for (const [index, name] of header.entries()) {
    if (seen.has(name)) {
      throw new CredentialReportFormatError(
        `credential report line 1: column ${name} appears twice (again as column ${index + 1}); a report has each column once`,
      );
    }
    seen.add(name);
  }
  return header;
}

/**
 * Parses the credential report CSV exactly as `GetCredentialReport` returns it (after base64
 * decoding). Anything that does not look like a report throws a CredentialReportFormatError
 * naming the line and column, because a misread report could hide an active key.
 */
export function parseCredentialReport(csv: string, generatedAt: string | null): CredentialReport {
  let records: Record<string, string>[];
  try {
    records = parse(csv.replace(/^\uFEFF/, ''), {
      columns: uniqueColumns,
      skip_empty_lines: true,
      trim: true,
    }) as Record<string, string>[];
  } catch (error) {
    if (error instanceof CredentialReportFormatError) throw error;
    throw new CredentialReportFormatError(`credential report is not valid CSV: ${(error as Error).message}`);
  }
  if (records.length === 0) throw new CredentialReportFormatError('credential report has no rows');
  const columns = Object.keys(records[0] ?? {});
  const missing = REQUIRED_COLUMNS.filter((c) => !columns.includes(c));
  if (missing.length > 0) {
    throw new CredentialReportFormatError(`credential report lacks column(s): ${missing.join(', ')}`);
  }
  const rows = records.map((record, index): CredentialReportRow => {
    const line = index + 2; // line 1 is the header
    const user = record.user ?? '';
    const arn = record.arn ?? '';
    if (!user) fail(line, 'user', 'empty');
    if (!arn.startsWith('arn:')) fail(line, 'arn', `not an ARN: ${JSON.stringify(arn)}`);
    return {
      user,
      arn,
      isRoot: user === '<root_account>',
      userCreationTime: dateOrNull(record.user_creation_time, line, 'user_creation_time'),
      passwordEnabled: boolOrNull(record.password_enabled, line, 'password_enabled'),
      mfaActive: boolOrNull(record.mfa_active, line, 'mfa_active'),
      keys: [keySlot(record, 'access_key_1', line), keySlot(record, 'access_key_2', line)],
    };
  });
  return { generatedAt, rows };
}
