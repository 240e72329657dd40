/**
 * Normalizes IAM policy documents into a list of statements with every equivalent spelling made
 * one: a statement object or an array of them, a string or a list for Action/Resource/Principal,
 * any case for Effect and for action names. Anything that is not a readable policy becomes an
 * error, never an empty (and so "compliant") list.
 */

export interface NormalizedStatement {
  /** Position in the document's Statement list (0-based), to name a statement without a Sid. */
  index: number;
  sid: string | null;
  effect: 'Allow' | 'Deny';
  /** Exactly one of actions / notActions is set; values keep their spelling, compare lowercased. */
  actions: string[] | null;
  notActions: string[] | null;
  /** Identity policies: Resource or NotResource. Trust policies have neither. */
  resources: string[] | null;
  notResources: string[] | null;
  /** Trust policies: Principal / NotPrincipal, normalized to type -> values. */
  principal: Record<string, string[]> | '*' | null;
  notPrincipal: Record<string, string[]> | '*' | null;
  condition: Record<string, unknown> | null;
}

export type StatementsResult = { ok: true; statements: NormalizedStatement[] } | { ok: false; error: string };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Finds a key case-insensitively (`effect`, `EFFECT`): IAM is strict, but a lenient read is the safe side. */
function field(statement: Record<string, unknown>, name: string): unknown {
  if (name in statement) return statement[name];
  const lower = name.toLowerCase();
  for (const key of Object.keys(statement)) if (key.toLowerCase() === lower) return statement[key];
  return undefined;
}

function stringList(value: unknown, what: string): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
  throw new Error(`${what} must be a string or a list of strings`);
}

function principalOf(value: unknown, what: string): Record<string, string[]> | '*' | null {
  if (value === undefined) return null;
  if (value === '*') return '*';
  if (!isRecord(value)) throw new Error(`${what} must be "*" or an object`);
  const out: Record<string, string[]> = {};
  for (const [type, ids] of Object.entries(value)) out[type] = stringList(ids, `${what}.${type}`);
  return out;
}

function normalizeOne(raw: unknown, index: number): NormalizedStatement {
  if (!isRecord(raw)) throw new Error(`statement ${index} is not an object`);
  const effectRaw = field(raw, 'Effect');
  const effect = typeof effectRaw === 'string' ? effectRaw.toLowerCase() : undefined;
  if (effect !== 'allow' && effect !== 'deny') throw new Error(`statement ${index}: Effect must be Allow or Deny`);
  const action = field(raw, 'Action');
  const notAction = field(raw, 'NotAction');
  const resource = field(raw, 'Resource');
  const notResource = field(raw, 'NotResource');
  const condition = field(raw, 'Condition');
  const sid = field(raw, 'Sid');
  if (condition !== undefined && !isRecord(condition)) throw new Error(`statement ${index}: Condition must be an object`);
  return {
    index,
    sid: typeof sid === 'string' && sid !== '' ? sid : null,
    effect: effect === 'allow' ? 'Allow' : 'Deny',
    actions: action === undefined ? null : stringList(action, `statement ${index}: Action`),
    notActions: notAction === undefined ? null : stringList(notAction, `statement ${index}: NotAction`),
    resources: resource === undefined ? null : stringList(resource, `statement ${index}: Resource`),
    notResources: notResource === undefined ? null : stringList(notResource, `statement ${index}: NotResource`),
    principal: principalOf(field(raw, 'Principal'), `statement ${index}: Principal`),
    notPrincipal: principalOf(field(raw, 'NotPrincipal'), `statement ${index}: NotPrincipal`),
    condition: isRecord(condition) && Object.keys(condition).length > 0 ? condition : null,
  };
}

/** Reads a parsed policy document's statements; never throws. */
export function normalizeStatements(document: unknown): StatementsResult {
  try {
    if (!isRecord(document)) return { ok: false, error: 'the policy document is not a JSON object' };
    const statement = field(document, 'Statement');
    if (statement === undefined) return { ok: false, error: 'the policy document has no Statement' };
    const list = Array.isArray(statement) ? statement : [statement];
    return { ok: true, statements: list.map((s, i) => normalizeOne(s, i)) };
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  }
}

/** `*` and `*:*` in any case mean every action of every service. */
export function isAllActions(action: string): boolean {
  const a = action.trim();
  return a === '*' || a === '*:*';
}

/** How a statement names itself in a finding: its Sid, or its position. */
export function statementLabel(statement: Pick<NormalizedStatement, 'sid' | 'index'>): string {
  return statement.sid ? `Sid ${statement.sid}` : `statement #${statement.index}`;
}

/**
 * IAM's wildcard match for ARNs and action names: `*` any run of characters, `?` one character,
 * case-sensitive for ARNs (IAM is), so callers lowercase actions themselves.
 */
export function wildcardMatch(pattern: string, value: string): boolean {
  const regex = new RegExp(
    `^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`,
    's',
  );
  return regex.test(value);
}
