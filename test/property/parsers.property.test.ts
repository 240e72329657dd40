/**
 * Property-based tests of the input parsers: the credential report CSV parser and the offline
 * loader (folders of AWS CLI exports, written to temporary folders). Whatever the bytes, they end
 * in their own typed error (CredentialReportFormatError, OfflineInputError) or in the documented
 * `unread` Source naming the file, never in a stray TypeError/RangeError, and never in a misread.
 *
 * A failure prints fast-check's `{ seed, path }`; replay it with `fc.assert(..., { seed, path })`.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ALL_CHECKS } from '#test/checks.ts';
import { CredentialReportFormatError, parseCredentialReport } from '#lib/inventory/sources/credential-report/normalize.ts';
import { loadOffline, OfflineInputError } from '#lib/inventory/offline.ts';
import type { Inventory, Source } from '#lib/inventory/types.ts';
import {
  authorizationDetailsPage,
  CREDENTIAL_REPORT_COLUMNS,
  credentialReportCsv,
  daysBefore,
  FIXTURE_ACCOUNT_ID,
  policy,
  allow,
  rootReportRow,
  roleArn,
  roleDetail,
  serviceTrust,
  userArn,
  userDetail,
  userReportRow,
  type CredentialReportRecord,
} from '#test/aws.ts';
import { settings } from '#test/build-inventory.ts';

const SETTINGS = settings();

// ---------------------------------------------------------------------------------------------
// Credential report

/** Values a report field may hold, and near misses: case, whitespace, quotes, separators, unicode. */
const reportValue = fc.oneof(
  fc.constantFrom(
    'true',
    'false',
    'TRUE',
    'False',
    ' true',
    'true ',
    'yes',
    '1',
    '',
    'N/A',
    'n/a',
    'not_supported',
    'no_information',
    '2024-01-01T10:00:00+00:00',
    '2024-13-45T99:00:00+00:00',
    '2024-01-01',
    'not a date',
    '+275760-09-13T00:00:00Z',
    '+275760-09-14T00:00:00Z',
    'arn:aws:iam::123456789012:user/x',
    '<root_account>',
    'a,b',
    'say "hi"',
    'line\nbreak',
    '\r',
    '\uFEFF',
    'é漢',
    '"',
    '\u0000',
  ),
  fc.string({ unit: 'binary', maxLength: 12 }),
);

/** Columns of a row that a test may spoil. */
const reportColumn = fc.constantFrom(...CREDENTIAL_REPORT_COLUMNS);

const cleanRows = fc
  .array(
    fc.record({
      name: fc.stringMatching(/^[A-Za-z0-9+=,.@_-]{1,12}$/),
      k1: fc.boolean(),
      k2: fc.boolean(),
      age1: fc.nat(3000),
      age2: fc.nat(3000),
    }),
    { maxLength: 4 },
  )
  .map((users) => [
    rootReportRow(),
    ...users.map((u) =>
      userReportRow({
        name: u.name,
        keys: [
          { active: u.k1, lastRotated: daysBefore(u.age1) },
          { active: u.k2, lastRotated: daysBefore(u.age2) },
        ],
      }),
    ),
  ]);

/** A report from the fixtures, spoiled: fields overwritten, columns dropped, doubled, reordered or added. */
const spoiledReport = fc
  .record({
    rows: cleanRows,
    edits: fc.array(fc.tuple(fc.nat(), reportColumn, reportValue), { maxLength: 4 }),
    columns: fc.oneof(
      fc.constant([...CREDENTIAL_REPORT_COLUMNS] as string[]),
      fc.shuffledSubarray([...CREDENTIAL_REPORT_COLUMNS] as string[], { minLength: 1 }),
      fc.constant([...CREDENTIAL_REPORT_COLUMNS, 'access_key_1_active'] as string[]),
      fc.constant([...CREDENTIAL_REPORT_COLUMNS, 'some_new_column'] as string[]),
    ),
    bom: fc.boolean(),
    crlf: fc.boolean(),
  })
  .map(({ rows, edits, columns, bom, crlf }) => {
    const spoiled: CredentialReportRecord[] = rows.map((r) => ({ ...r }));
    for (const [at, column, value] of edits) spoiled[at % spoiled.length]![column] = value;
    const cell = (value: string) => (/[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value);
    const lines = [columns.join(','), ...spoiled.map((r) => columns.map((c) => cell((r as Record<string, string>)[c] ?? 'x')).join(','))];
    return (bom ? '\uFEFF' : '') + lines.join(crlf ? '\r\n' : '\n');
  });

function parseOrTypedError(csv: string): ReturnType<typeof parseCredentialReport> | CredentialReportFormatError {
  try {
    return parseCredentialReport(csv, null);
  } catch (error) {
    // Only its own error, with a message a reader can act on.
    expect(error).toBeInstanceOf(CredentialReportFormatError);
    expect((error as Error).message).toMatch(/^credential report /);
    return error as CredentialReportFormatError;
  }
}

describe('parseCredentialReport', () => {
  it('arbitrary text: a report or a CredentialReportFormatError, nothing else', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 300 }),
          fc.string({ unit: fc.constantFrom(',', '"', '\n', '\r', 'a', 'true', 'N/A', ' ', '\uFEFF'), maxLength: 200 }),
          fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes).toString('utf8')),
        ),
        (text) => {
          parseOrTypedError(text);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('spoiled reports: every row read exactly as written, or the whole report refused; an unreadable key state never reads as inactive', () => {
    fc.assert(
      fc.property(spoiledReport, (csv) => {
        const result = parseOrTypedError(csv);
        if (result instanceof CredentialReportFormatError) return;
        // What the CSV says, field by field (the parser's own CSV settings).
        const written = parse(csv.replace(/^\uFEFF/, ''), {
          columns: true,
          skip_empty_lines: true,
          trim: true,
          relax_column_count: false,
        }) as Record<string, string>[];
        // A line repeated exactly is one row (a user listed twice differently is refused).
        const records = written.filter((r, i) => written.findIndex((o) => JSON.stringify(o) === JSON.stringify(r)) === i);
        expect(result.rows).toHaveLength(records.length);
        result.rows.forEach((row, i) => {
          const record = records[i]!;
          expect(row.user).toBe(record.user);
          expect(row.isRoot).toBe(record.user === '<root_account>');
          for (const key of row.keys) {
            const written = record[`${key.slot}_active`];
            // Only the literal true and false are key states; anything else must have been refused.
            expect(written === 'true' || written === 'false').toBe(true);
            expect(key.active).toBe(written === 'true');
            for (const [value, column] of [
              [key.lastRotated, `${key.slot}_last_rotated`],
              [key.lastUsedDate, `${key.slot}_last_used_date`],
            ] as const) {
              if (value !== null) expect(value).toBe(new Date(Date.parse(record[column]!)).toISOString());
            }
          }
        });
      }),
      { numRuns: 600 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Offline loader

const NOW = new Date('2026-11-01T00:00:00Z');
const ACCOUNT = FIXTURE_ACCOUNT_ID;

const reportCsv = () =>
  credentialReportCsv([rootReportRow(), userReportRow({ name: 'ann', keys: [{ active: true, lastRotated: daysBefore(100) }] })]);

/** A complete, consistent export folder, from the AWS fixtures as the CLI writes them (`--output json`). */
function baseFolder(): Record<string, unknown> {
  return {
    'caller-identity.json': { UserId: 'AIDAEXAMPLE', Account: ACCOUNT, Arn: userArn('ann') },
    'manifest.json': { collectedAt: '2026-11-01T00:00:00Z' },
    'account-summary.json': { SummaryMap: { AccountAccessKeysPresent: 0, AccountMFAEnabled: 1 } },
    'credential-report.json': {
      Content: Buffer.from(reportCsv()).toString('base64'),
      ReportFormat: 'text/csv',
      GeneratedTime: daysBefore(0.1).toISOString(),
    },
    'account-authorization-details.json': authorizationDetailsPage({
      users: [userDetail({ name: 'ann', inline: { Admin: policy(allow('*')) } })],
      groups: [],
      roles: [roleDetail({ name: 'dax', trust: serviceTrust('dax.amazonaws.com') })],
      policies: [],
    }),
    'access-keys/ann.json': {
      AccessKeyMetadata: [
        { UserName: 'ann', AccessKeyId: 'AKIAEXAMPLEANN000001', Status: 'Active', CreateDate: daysBefore(100).toISOString() },
      ],
    },
    'us-east-1/cache-clusters.json': { CacheClusters: [] },
    'us-east-1/replication-groups.json': { ReplicationGroups: [] },
    'us-east-1/dax-clusters.json': { Clusters: [{ ClusterName: 'd1', Status: 'available', IamRoleArn: roleArn('dax') }] },
  };
}

/** Which Source each file feeds; manifest and caller identity are not Sources (a bad one stops the import). */
const TARGETS: Record<string, ((inv: Inventory) => Source<unknown> | undefined) | 'identity'> = {
  'caller-identity.json': 'identity',
  'manifest.json': 'identity',
  'account-summary.json': (inv) => inv.accountSummary,
  'credential-report.json': (inv) => inv.credentialReport,
  'credential-report.csv': (inv) => inv.credentialReport,
  'account-authorization-details.json': (inv) => inv.authorizationDetails,
  'access-keys/ann.json': (inv) => inv.accessKeys.ann,
  'us-east-1/cache-clusters.json': (inv) => inv.regions.find((r) => r.region === 'us-east-1')?.elastiCache,
  'us-east-1/replication-groups.json': (inv) => inv.regions.find((r) => r.region === 'us-east-1')?.elastiCache,
  'us-east-1/dax-clusters.json': (inv) => inv.regions.find((r) => r.region === 'us-east-1')?.dax,
};

const FOLDER = Symbol('a folder where the file should be');

/** What a spoiled file holds, as a small description (so that a counterexample prints short). */
type Content =
  | { kind: 'bytes'; bytes: Uint8Array }
  | { kind: 'text'; text: string }
  | { kind: 'json'; value: unknown }
  | { kind: 'nested'; depth: number; open: string; closed: boolean }
  | { kind: 'folder' };

function materialize(content: Content): string | Uint8Array | typeof FOLDER {
  switch (content.kind) {
    case 'bytes':
      return content.bytes;
    case 'text':
      return content.text;
    case 'json':
      return `${JSON.stringify(content.value, null, 4)}\n`;
    case 'nested':
      return content.open.repeat(content.depth) + (content.closed ? ']'.repeat(content.depth) : '');
    case 'folder':
      return FOLDER;
  }
}

async function writeFolder(files: Record<string, unknown>): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'offline-property-'));
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    if (content === FOLDER) await mkdir(path.join(dir, name), { recursive: true });
    else
      await writeFile(
        path.join(dir, name),
        typeof content === 'string' || content instanceof Uint8Array ? content : `${JSON.stringify(content, null, 4)}\n`,
      );
  }
  return dir;
}

/** Bytes, text, JSON of any shape, the right shape with one value replaced, deep nesting, nothing, or a folder. */
function spoiledContent(original: unknown): fc.Arbitrary<Content> {
  const replaceOne = fc.tuple(fc.nat(), fc.jsonValue({ maxDepth: 2 })).map(([at, value]): Content => {
    const copy = JSON.parse(JSON.stringify(original)) as unknown;
    const holders: Record<string, unknown>[] = [];
    const walk = (node: unknown) => {
      if (typeof node === 'object' && node !== null) {
        holders.push(node as Record<string, unknown>);
        for (const child of Object.values(node)) walk(child);
      }
    };
    walk(copy);
    const holder = holders[at % holders.length];
    const keys = holder ? Object.keys(holder) : [];
    if (holder && keys.length > 0) holder[keys[at % keys.length]!] = value;
    return typeof copy === 'string' ? { kind: 'text', text: copy } : { kind: 'json', value: copy };
  });
  return fc.oneof(
    fc.uint8Array({ maxLength: 200 }).map((bytes): Content => ({ kind: 'bytes', bytes })),
    fc
      .tuple(fc.constantFrom([0xff, 0xfe], [0xfe, 0xff], [0xef, 0xbb, 0xbf]), fc.uint8Array({ maxLength: 100 }))
      .map(([bom, rest]): Content => ({ kind: 'bytes', bytes: Uint8Array.from([...bom, ...rest]) })),
    fc.string({ unit: 'binary', maxLength: 200 }).map((text): Content => ({ kind: 'text', text })),
    fc.jsonValue({ stringUnit: 'binary', maxDepth: 3 }).map((value): Content => ({ kind: 'json', value })),
    replaceOne,
    fc
      .tuple(fc.integer({ min: 1, max: 50_000 }), fc.constantFrom('[', '{"a":', '[{"b":'), fc.boolean())
      .map(([depth, open, closed]): Content => ({ kind: 'nested', depth, open, closed: closed && open === '[' })),
    fc.constant<Content>({ kind: 'text', text: '' }),
    fc.constant<Content>({ kind: 'folder' }),
  );
}

/** Whether the file's text is JSON at all (as JSON.parse sees it); null when the bytes decide otherwise. */
function jsonVerdict(content: Content): boolean | null {
  const text = materialize(content);
  if (typeof text !== 'string' || text.startsWith('\uFEFF') || text.trim() === '') return null;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

describe('loadOffline', () => {
  it('one spoiled file: an Inventory whose matching Source is unread naming the file, or an OfflineInputError; the checks never throw', async () => {
    const target = fc.constantFrom(...Object.keys(TARGETS));
    await fc.assert(
      fc.asyncProperty(
        target.chain((file) => {
          const original = file === 'credential-report.csv' ? reportCsv() : baseFolder()[file];
          return fc.tuple(fc.constant(file), spoiledContent(original));
        }),
        async ([file, content]) => {
          const files = baseFolder();
          if (file === 'credential-report.csv') delete files['credential-report.json'];
          files[file] = materialize(content);
          const dir = await writeFolder(files);
          try {
            let inventory: Inventory;
            try {
              inventory = await loadOffline(dir, { now: () => NOW });
            } catch (error) {
              // Only the files that say which account and which moment may stop the import (or
              // a file that now claims another account).
              expect(error).toBeInstanceOf(OfflineInputError);
              const message = (error as Error).message;
              if (TARGETS[file] === 'identity') {
                expect(message).toContain(file);
                if (jsonVerdict(content) === false) expect(message).toContain('not valid JSON');
              } else expect(message).toContain('different accounts');
              return;
            }
            const pick = TARGETS[file]!;
            if (pick !== 'identity') {
              const source = pick(inventory);
              // Only a folder named like a key file is skipped: that user is "not looked up", as documented.
              if (source === undefined) {
                expect([file, content.kind]).toEqual(['access-keys/ann.json', 'folder']);
                return;
              }
              if (source!.state === 'unread') {
                expect(['InvalidFile', 'FileNotFound']).toContain(source!.code);
                expect(source!.reason).toContain(path.basename(file));
              }
              const verdict = file.endsWith('.csv') ? null : jsonVerdict(content);
              if (verdict === false) {
                expect(source!.state).toBe('unread');
                expect(source!.state === 'unread' && source!.reason).toContain('not valid JSON');
              }
              // A folder in the file's place is never read as an empty export (the listing skips it for some files: "file not found").
              if (content.kind === 'folder') expect(source!.state === 'unread' && source!.reason).toMatch(/is a folder|file not found/);
            }
            for (const check of ALL_CHECKS) check.evaluate(inventory, SETTINGS);
          } finally {
            await rm(dir, { recursive: true, force: true });
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('access-keys/<UserName>.json: every file is read under its own user name, whatever the name', async () => {
    const name = fc.oneof(
      fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'ann', 'state', 'data', 'é漢', 'a+b=c,d.e@f_g-h'),
      fc.stringMatching(/^[A-Za-z0-9+=,.@_-]{1,20}$/),
    );
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(name, { minLength: 1, maxLength: 4 }), async (users) => {
        const files = baseFolder();
        delete files['access-keys/ann.json'];
        for (const user of users)
          files[`access-keys/${user}.json`] = {
            AccessKeyMetadata: [
              { UserName: user, AccessKeyId: `AKIA${user.length}`, Status: 'Active', CreateDate: daysBefore(10).toISOString() },
            ],
          };
        const dir = await writeFolder(files);
        try {
          const inventory = await loadOffline(dir, { now: () => NOW });
          expect(Object.keys(inventory.accessKeys).sort()).toEqual([...users].sort());
          for (const user of users) {
            expect(Object.hasOwn(inventory.accessKeys, user)).toBe(true);
            expect(inventory.accessKeys[user]).toMatchObject({ state: 'read', data: [{ accessKeyId: `AKIA${user.length}` }] });
          }
          for (const check of ALL_CHECKS) check.evaluate(inventory, SETTINGS);
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 60 },
    );
  });
});
