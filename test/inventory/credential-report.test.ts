import { describe, expect, it } from 'vitest';
import { CredentialReportFormatError, parseCredentialReport } from '#lib/inventory/sources/credential-report/normalize.ts';
import { credentialReportCsv, daysBefore, rootReportRow, userReportRow } from '#test/aws.ts';

/** A well-formed report: the root user, and ann with an active key in slot 1. */
function report(): string {
  return credentialReportCsv([rootReportRow(), userReportRow({ name: 'ann', keys: [{ active: true, lastRotated: daysBefore(200) }] })]);
}

/** Appends a column to the header and a value to every row. */
function withExtraColumn(csv: string, name: string, value: string): string {
  const [header, ...rows] = csv.split('\n');
  return [`${header},${name}`, ...rows.map((row) => `${row},${value}`)].join('\n');
}

function formatError(csv: string): CredentialReportFormatError {
  try {
    parseCredentialReport(csv, null);
  } catch (error) {
    expect(error).toBeInstanceOf(CredentialReportFormatError);
    return error as CredentialReportFormatError;
  }
  throw new Error('expected a CredentialReportFormatError');
}

describe('parseCredentialReport: duplicate columns', () => {
  it('reads the well-formed report (the baseline for the cases below)', () => {
    const parsed = parseCredentialReport(report(), null);
    expect(parsed.rows.find((r) => r.user === 'ann')!.keys[0].active).toBe(true);
  });

  it('refuses a header that repeats access_key_1_active, rather than letting the last column hide an active key', () => {
    // The repeated column says "false" for everyone: read by name, ann's active key would vanish.
    const error = formatError(withExtraColumn(report(), 'access_key_1_active', 'false'));
    expect(error.message).toBe(
      'credential report line 1: column access_key_1_active appears twice (again as column 23); a report has each column once',
    );
  });

  it('refuses any repeated column, even one the checks do not read', () => {
    const error = formatError(withExtraColumn(report(), 'cert_1_active', 'false'));
    expect(error.message).toContain('column cert_1_active appears twice');
  });

  it('compares the names as trimmed, as the records are keyed', () => {
    const error = formatError(withExtraColumn(report(), ' user ', 'someone'));
    expect(error.message).toContain('column user appears twice');
  });
});

describe('parseCredentialReport: plain and quoted text read alike', () => {
  /** The same report with every field quoted, CRLF line ends and blanks around the fields: csv-parse reads it. */
  const quoted = (csv: string): string =>
    csv
      .split('\n')
      .map((line) =>
        line === ''
          ? line
          : line
              .split(',')
              .map((field) => ` "${field}"\t`)
              .join(','),
      )
      .join('\r\n');

  it('a report as IAM writes it and the same report quoted give the same rows', () => {
    const csv = `${credentialReportCsv([
      rootReportRow(),
      userReportRow({ name: 'ann', keys: [{ active: true, lastRotated: daysBefore(200) }] }),
      userReportRow({
        name: 'bob',
        mfa: true,
        keys: [
          { active: false, lastRotated: daysBefore(30) },
          { active: true, lastRotated: daysBefore(500) },
        ],
      }),
    ])}\n`;
    const plain = parseCredentialReport(csv, null);
    expect(plain.rows.map((r) => r.user)).toEqual(['<root_account>', 'ann', 'bob']);
    expect(parseCredentialReport(quoted(csv), null)).toEqual(plain);
  });

  it('whitespace csv-parse trims off the end of a field (a no-break space) is trimmed as before', () => {
    const csv = report().replace('\nann,', '\nann\u00a0,');
    expect(csv).toContain('ann\u00a0,');
    expect(parseCredentialReport(csv, null).rows.map((r) => r.user)).toContain('ann');
  });

  it('a line with a field too many is refused the same, plain or quoted', () => {
    const csv = `${report()},extra`;
    expect(formatError(csv).message).toBe(formatError(quoted(csv)).message);
  });
});
