import { parse } from 'csv-parse/sync';
import { AuditorError } from '#lib/model/errors.ts';
import { canonical, dateProblem, differingFields } from '../../integrity.ts';
import type { CredentialReport, CredentialReportKey, CredentialReportRow, KeySlotName } from '../../types.ts';

export class CredentialReportFormatError extends AuditorError {
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

/** Where a row's values are checked: its line, the user it is about, and the audit time bound. */
interface RowContext {
  line: number;
  user: string;
  notAfter: number | undefined;
}

function fail(at: RowContext, column: string, message: string): never {
  const who = at.user ? ` (user ${at.user})` : '';
  throw new CredentialReportFormatError(`credential report line ${at.line}${who}, column ${column}: ${message}`);
}

/** Dates are ISO 8601 with a time zone, never after the audit time: a key "rotated" tomorrow has no age. */
function dateOrNull(value: string | undefined, at: RowContext, column: string): string | null {
  if (value === undefined || EMPTY_VALUES.has(value)) return null;
  const problem = dateProblem(value, at.notAfter);
  if (problem) fail(at, column, problem);
  return new Date(Date.parse(value)).toISOString();
}

function textOrNull(value: string | undefined): string | null {
  return value === undefined || EMPTY_VALUES.has(value) ? null : value;
}

function boolOrNull(value: string | undefined, at: RowContext, column: string): boolean | null {
  if (value === undefined || EMPTY_VALUES.has(value)) return null;
  if (value === 'true') return true;
  if (value === 'false') return false;
  return fail(at, column, `expected true or false, got ${JSON.stringify(value)}`);
}

function keySlot(record: Record<string, string>, slot: KeySlotName, at: RowContext): CredentialReportKey {
  // An `active` value we cannot read must not turn into "inactive": that would hide a key.
  const active = boolOrNull(record[`${slot}_active`], at, `${slot}_active`);
  return {
    slot,
    active: active ?? fail(at, `${slot}_active`, 'missing value'),
    lastRotated: dateOrNull(record[`${slot}_last_rotated`], at, `${slot}_last_rotated`),
    lastUsedDate: dateOrNull(record[`${slot}_last_used_date`], at, `${slot}_last_used_date`),
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
 * The records of a report as IAM writes it: no quotes, no carriage returns, no whitespace (which
 * csv-parse's `trim` would remove), no blank line, a header of plain column names,
 * every line as many fields as the header. Such text reads the same split on commas and newlines
 * as through csv-parse, at a fraction of the cost over an organization's reports; anything else
 * (null) is csv-parse's to read, and to word the error of.
 */
function plainRecords(text: string): Record<string, string>[] | null {
  // csv-parse's trim takes any whitespace off a field's end (JavaScript's, U+FEFF and U+00A0 too).
  if (/["\r]|[^\S\n]/.test(text)) return null;
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  if (lines.length === 0 || lines.includes('')) return null;
  const header = lines[0]!.split(',');
  if (!header.every((name) => /^\w+$/.test(name))) return null;
  const columns = uniqueColumns(header);
  const records: Record<string, string>[] = [];
  for (let i = 1; i < lines.length; i++) {
    const fields = lines[i]!.split(',');
    if (fields.length !== columns.length) return null;
    const record: Record<string, string> = {};
    for (let j = 0; j < columns.length; j++) record[columns[j]!] = fields[j]!;
    records.push(record);
  }
  return records;
}

export interface ParseReportOptions {
  /** No date of the report may be after this (epoch ms, from integrity.dateBound). */
  notAfter?: number;
}

/**
 * Parses the credential report CSV exactly as `GetCredentialReport` returns it (after base64
 * decoding). Anything that does not look like a report throws a CredentialReportFormatError
 * naming the line and column, because a misread report could hide an active key. A user listed
 * on two lines is merged when the lines are identical, and an error naming both lines otherwise.
 */
export function parseCredentialReport(csv: string, generatedAt: string | null, options: ParseReportOptions = {}): CredentialReport {
  let records: Record<string, string>[];
  try {
    const text = csv.replace(/^\uFEFF/, '');
    records =
      plainRecords(text) ??
      (parse(text, {
        columns: uniqueColumns,
        skip_empty_lines: true,
        trim: true,
      }) as Record<string, string>[]);
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
  const rows: CredentialReportRow[] = [];
  const firstLine = new Map<string, { line: number; record: Record<string, string> }>();
  records.forEach((record, index) => {
    const line = index + 2; // line 1 is the header
    const user = record.user ?? '';
    const arn = record.arn ?? '';
    const at: RowContext = { line, user, notAfter: options.notAfter };
    if (!user) fail(at, 'user', 'empty');
    if (!arn.startsWith('arn:')) fail(at, 'arn', `not an ARN: ${JSON.stringify(arn)}`);
    for (const identity of new Set([`user ${user}`, `ARN ${arn}`])) {
      const earlier = firstLine.get(identity);
      if (!earlier) continue;
      if (canonical(earlier.record) === canonical(record)) return;
      throw new CredentialReportFormatError(
        `credential report lines ${earlier.line} and ${line} both list ${identity} with different values ` +
          `(${differingFields(earlier.record, record).join(', ')}): a report lists each user once`,
      );
    }
    firstLine.set(`user ${user}`, { line, record });
    firstLine.set(`ARN ${arn}`, { line, record });
    rows.push({
      user,
      arn,
      isRoot: user === '<root_account>',
      userCreationTime: dateOrNull(record.user_creation_time, at, 'user_creation_time'),
      passwordEnabled: boolOrNull(record.password_enabled, at, 'password_enabled'),
      mfaActive: boolOrNull(record.mfa_active, at, 'mfa_active'),
      keys: [keySlot(record, 'access_key_1', at), keySlot(record, 'access_key_2', at)],
    });
  });
  return { generatedAt, rows };
}
