import type { z } from 'zod';
import { AuditorError } from '#lib/model/errors.ts';

/**
 * Data that is not what its source must be (an API answer, an exported file): the normalizers
 * validate what the checks rely on and throw this, naming the input and the field.
 */
export class InventoryFormatError extends AuditorError {
  override name = 'InventoryFormatError';
}

/** Parses `raw` with a zod schema, or throws an InventoryFormatError naming `where` and the first offending field. */
export function parseWith<T>(schema: z.ZodType<T>, raw: unknown, where: string): T {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const at = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
    throw new InventoryFormatError(`${where}: ${at}${issue?.message ?? 'unexpected shape'}`);
  }
  return parsed.data;
}
