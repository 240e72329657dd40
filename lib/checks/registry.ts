import { CATALOGUE, CHECK_IDS, DEFAULT_CHECK_IDS, loadEvaluate, type CheckId, type CheckMetadata, type Evaluate } from './catalogue.ts';

/** A check ready to run: its catalogue metadata and its loaded logic. */
export interface Check extends CheckMetadata {
  evaluate: Evaluate;
}

/**
 * The checks a settings `checks` subset selects, in report order; when the subset is empty, every
 * check but the organization-mode-only ones (DEFAULT_CHECK_IDS).
 */
export async function loadChecks(ids: readonly CheckId[] = []): Promise<Check[]> {
  const selected = ids.length === 0 ? DEFAULT_CHECK_IDS : CHECK_IDS.filter((id) => ids.includes(id));
  return Promise.all(selected.map(async (id) => ({ ...CATALOGUE[id], evaluate: await loadEvaluate(id) })));
}
