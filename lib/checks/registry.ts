import { CATALOGUE, CHECK_IDS, loadEvaluate, type CheckId, type CheckMetadata, type Evaluate } from './catalogue.ts';

/** A check ready to run: its catalogue metadata and its loaded logic. */
export interface Check extends CheckMetadata {
  evaluate: Evaluate;
}

/** The checks a settings `checks` subset selects (all of them when the subset is empty), in report order. */
export async function loadChecks(ids: readonly CheckId[] = []): Promise<Check[]> {
  const selected = ids.length === 0 ? CHECK_IDS : CHECK_IDS.filter((id) => ids.includes(id));
  return Promise.all(selected.map(async (id) => ({ ...CATALOGUE[id], evaluate: await loadEvaluate(id) })));
}
