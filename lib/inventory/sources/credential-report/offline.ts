import path from 'node:path';
import { z } from 'zod';
import type { Listing, OfflineContext } from '../../definition.ts';
import { unreadSource } from '../../failure.ts';
import { decodeBase64, FileProblem, MISSING, notFound, readJson, readText, shapeProblem, source } from '../../files.ts';
import { dateProblem } from '../../integrity.ts';
import type { CredentialReport, Source } from '../../types.ts';
import { REPORT_CSV, REPORT_CSV_COMMAND, REPORT_JSON, REPORT_JSON_COMMAND } from './index.ts';
import { parseCredentialReport } from './normalize.ts';

export function present(listing: Listing): boolean {
  return listing.files.includes(REPORT_JSON) || listing.files.includes(REPORT_CSV);
}

const reportJsonSchema = z.object({
  Content: z.string(),
  ReportFormat: z.string().optional().nullable(),
  GeneratedTime: z.string().optional().nullable(),
});

/** A folder where a file belongs is named by the reader ("is a folder, not a file"), not missed. */
export async function read(ctx: OfflineContext): Promise<Source<CredentialReport>> {
  const { dir, notAfter } = ctx;
  const files = [...ctx.listing.files, ...ctx.listing.folders];
  const hasJson = files.includes(REPORT_JSON);
  const hasCsv = files.includes(REPORT_CSV);
  if (hasJson && hasCsv) {
    return unreadSource(
      REPORT_JSON,
      `both ${REPORT_JSON} and ${REPORT_CSV} are present: keep one, they may come from different reports`,
      'InvalidFile',
    );
  }
  if (!hasJson && !hasCsv) {
    return unreadSource(
      REPORT_JSON,
      `file not found (export it with: aws iam generate-credential-report, then once it is COMPLETE ` +
        `aws iam get-credential-report > ${REPORT_JSON}; or the decoded CSV as ${REPORT_CSV})`,
      'FileNotFound',
    );
  }
  if (hasJson) {
    return source(REPORT_JSON, async () => {
      const raw = await readJson(path.join(dir, REPORT_JSON));
      if (raw === MISSING) return notFound(REPORT_JSON, REPORT_JSON_COMMAND);
      const parsed = reportJsonSchema.safeParse(raw);
      if (!parsed.success) throw shapeProblem(parsed.error, 'aws iam get-credential-report');
      const { Content, ReportFormat, GeneratedTime } = parsed.data;
      if (ReportFormat && ReportFormat !== 'text/csv') {
        throw new FileProblem(`ReportFormat is ${JSON.stringify(ReportFormat)}, only text/csv is understood`, 'InvalidFile');
      }
      let generatedAt: string | null = null;
      if (GeneratedTime !== undefined && GeneratedTime !== null) {
        const problem = dateProblem(GeneratedTime, notAfter);
        if (problem) throw new FileProblem(`GeneratedTime ${problem}`, 'InvalidFile');
        generatedAt = new Date(Date.parse(GeneratedTime)).toISOString();
      }
      return parseCredentialReport(decodeBase64(Content, 'Content'), generatedAt, { notAfter });
    });
  }
  return source(REPORT_CSV, async () => {
    const text = await readText(path.join(dir, REPORT_CSV));
    if (text === null) return notFound(REPORT_CSV, REPORT_CSV_COMMAND);
    // `--query Content --output text` without `| base64 --decode` leaves base64; a CSV header has commas.
    const firstLine = text.trimStart().split('\n', 1)[0] ?? '';
    let content = text;
    if (!firstLine.includes(',')) {
      try {
        content = decodeBase64(text, 'the file');
      } catch {
        throw new FileProblem('is neither a credential report CSV (its first line has no commas) nor base64 of one', 'InvalidFile');
      }
    }
    // The CSV carries no generation time, and the file's mtime is not one either (copies, git
    // checkouts and unzips reset it): unknown is the honest value.
    return parseCredentialReport(content, null, { notAfter });
  });
}
