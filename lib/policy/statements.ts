/**
 * Normalizes IAM policy documents into a list of statements with every equivalent spelling made
 * one: a statement object or an array of them, a string or a list for Action/Resource/Principal,
 * any case for action names (IAM compares them case-insensitively). Action and Resource values are
 * read as written: IAM does not trim them, and a padded one is refused. Element names and Effect values
 * are case-sensitive in IAM, which refuses `"effect"` or `"Effect": "allow"`: such a document can
 * only come from a hand-made or damaged export, and it is unreadable here too. Anything that is not
 * a readable policy becomes an error, never an empty (and so "compliant") list.
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

/** A value for an error message: short, and never a throw of its own. */
function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text =
    typeof value === 'string'
      ? JSON.stringify(value)
      : Array.isArray(value)
        ? 'a list'
        : typeof value === 'object' && value !== null
          ? 'an object'
          : String(value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

/**
 * An element by its exact name. IAM refuses a document whose element names are spelled in another
 * case (`effect`, `EFFECT`), so it cannot be in effect as written; reading it anyway is not the safe
 * side: it took `{"effect": "Deny", "action": "*", "resource": "*"}` for a Deny of everything (a
 * false PASS for user-full-access) and an `"action"`/`"principal"` trust for DAX trust. Unreadable.
 * Own properties only: `constructor` or `__proto__` are not elements of a policy.
 */
function field(statement: Record<string, unknown>, name: string): unknown {
  const lower = name.toLowerCase();
  const variant = Object.keys(statement).find((key) => key !== name && key.toLowerCase() === lower);
  if (variant !== undefined)
    throw new Error(`element ${JSON.stringify(variant)} must be spelled ${name} (IAM element names are case-sensitive)`);
  return Object.hasOwn(statement, name) ? statement[name] : undefined;
}

function stringList(value: unknown, what: string): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
  throw new Error(`${what} must be a string or a list of strings`);
}

/** A padded value for an error message: quoted, and shortened in the middle so its ends stay visible. */
function quotedEnds(value: string): string {
  const text = JSON.stringify(value);
  return text.length > 64 ? `${text.slice(0, 30)}…${text.slice(-30)}` : text;
}

/**
 * Action/NotAction/Resource/NotResource values. IAM does not trim them: `" *"` is a literal pattern
 * that matches no real action or resource, not `*`. A padded value is refused: read exactly, it
 * would grant or deny nothing where it looks like it does; trimmed, it is not what IAM reads.
 */
function patternList(value: unknown, element: string, index: number): string[] {
  const values = stringList(value, `statement ${index}: ${element}`);
  const padded = values.find((v) => v !== v.trim());
  if (padded !== undefined) {
    throw new Error(
      `statement ${index}: ${element} value ${quotedEnds(padded)} has leading or trailing whitespace (IAM reads it as written, not trimmed)`,
    );
  }
  return values;
}

function principalOf(value: unknown, what: string): Record<string, string[]> | '*' | null {
  if (value === undefined) return null;
  if (value === '*') return '*';
  if (!isRecord(value)) throw new Error(`${what} must be "*" or an object`);
  const out: Record<string, string[]> = {};
  for (const [type, ids] of Object.entries(value)) out[type] = stringList(ids, `${what}.${type}`);
  return out;
}

/**
 * What kind of document is read: IAM's grammar differs. An identity policy (and a permissions
 * boundary) names no Principal and exactly one of Action/NotAction and of Resource/NotResource;
 * a trust policy names its principals. A service control policy names no Principal either and
 * at most one of Resource/NotResource, none meaning every resource. `any` checks only what holds
 * for all of them.
 */
export type DocumentKind = 'identity' | 'scp' | 'trust' | 'any';

const STATEMENT_ELEMENTS = new Set([
  'Sid',
  'Effect',
  'Principal',
  'NotPrincipal',
  'Action',
  'NotAction',
  'Resource',
  'NotResource',
  'Condition',
]);
const DOCUMENT_ELEMENTS = new Set(['Version', 'Id', 'Statement']);
const VERSIONS = new Set(['2012-10-17', '2008-10-17']);

/** IAM refuses a document with an element it does not know (`Condtion`): so is it refused here. */
function refuseUnknown(record: Record<string, unknown>, known: Set<string>, where: string): void {
  for (const key of Object.keys(record)) {
    if (known.has(key)) continue;
    const spelled = [...known].find((k) => k.toLowerCase() === key.toLowerCase());
    if (spelled)
      throw new Error(`${where}element ${JSON.stringify(key)} must be spelled ${spelled} (IAM element names are case-sensitive)`);
    throw new Error(`${where}unknown element ${JSON.stringify(key)} (IAM refuses the document)`);
  }
}

function normalizeOne(raw: unknown, index: number, kind: DocumentKind): NormalizedStatement {
  if (!isRecord(raw)) throw new Error(`statement ${index} is not an object`);
  refuseUnknown(raw, STATEMENT_ELEMENTS, `statement ${index}: `);
  const has = (name: string) => Object.hasOwn(raw, name);
  if (has('Action') && has('NotAction')) throw new Error(`statement ${index}: has both Action and NotAction (IAM refuses the document)`);
  if (has('Resource') && has('NotResource'))
    throw new Error(`statement ${index}: has both Resource and NotResource (IAM refuses the document)`);
  if (!has('Action') && !has('NotAction'))
    throw new Error(`statement ${index}: has neither Action nor NotAction (IAM refuses the document)`);
  if (kind === 'identity' || kind === 'scp') {
    if (has('Principal') || has('NotPrincipal')) {
      const where =
        kind === 'scp' ? 'a service control policy (Organizations refuses the document)' : 'an identity policy (IAM refuses the document)';
      throw new Error(`statement ${index}: ${has('Principal') ? 'Principal' : 'NotPrincipal'} is not allowed in ${where}`);
    }
  }
  if (kind === 'identity' && !has('Resource') && !has('NotResource')) {
    throw new Error(`statement ${index}: has neither Resource nor NotResource (IAM refuses the document)`);
  }
  const sidValue = raw.Sid;
  if (sidValue !== undefined && typeof sidValue !== 'string') throw new Error(`statement ${index}: Sid must be a string`);
  const effect = field(raw, 'Effect');
  // IAM's Effect values are case-sensitive and it refuses any other spelling. Reading `deny` as Deny
  // turned a user's Allow * into PASS, and `allow` in a trust policy made DAX trust a role: a
  // document IAM would not accept is unreadable (ERROR), never evaluated as a guess.
  if (effect !== 'Allow' && effect !== 'Deny') {
    throw new Error(`statement ${index}: Effect must be "Allow" or "Deny" (case-sensitive), got ${describeValue(effect)}`);
  }
  const action = field(raw, 'Action');
  const notAction = field(raw, 'NotAction');
  const resource = field(raw, 'Resource');
  const notResource = field(raw, 'NotResource');
  const condition = field(raw, 'Condition');
  const sid = field(raw, 'Sid');
  if (condition !== undefined && !isRecord(condition)) throw new Error(`statement ${index}: Condition must be an object`);
  if (isRecord(condition)) {
    for (const [operator, block] of Object.entries(condition)) {
      if (!isRecord(block)) throw new Error(`statement ${index}: Condition operator ${JSON.stringify(operator)} must map keys to values`);
    }
  }
  return {
    index,
    sid: typeof sid === 'string' && sid !== '' ? sid : null,
    effect,
    actions: action === undefined ? null : patternList(action, 'Action', index),
    notActions: notAction === undefined ? null : patternList(notAction, 'NotAction', index),
    resources: resource === undefined ? null : patternList(resource, 'Resource', index),
    notResources: notResource === undefined ? null : patternList(notResource, 'NotResource', index),
    principal: principalOf(field(raw, 'Principal'), `statement ${index}: Principal`),
    notPrincipal: principalOf(field(raw, 'NotPrincipal'), `statement ${index}: NotPrincipal`),
    condition: isRecord(condition) && isCondition(condition, effect) ? condition : null,
  };
}

/**
 * Whether a Condition element makes its statement conditional. An empty object does not. For one
 * whose operators all name no keys (`{"StringEquals": {}}`) IAM documents no rule, so it is read on
 * the reporting side: no condition on an Allow (a grant), a condition on a Deny (which may then
 * not apply, and removes nothing).
 */
function isCondition(condition: Record<string, unknown>, effect: 'Allow' | 'Deny'): boolean {
  const blocks = Object.values(condition);
  if (blocks.length === 0) return false;
  return effect === 'Deny' || blocks.some((block) => isRecord(block) && Object.keys(block).length > 0);
}

/** Reads a parsed policy document's statements; never throws. */
export function normalizeStatements(document: unknown, kind: DocumentKind = 'any'): StatementsResult {
  try {
    if (!isRecord(document)) return { ok: false, error: 'the policy document is not a JSON object' };
    const statement = field(document, 'Statement');
    if (statement === undefined) return { ok: false, error: 'the policy document has no Statement' };
    refuseUnknown(document, DOCUMENT_ELEMENTS, '');
    const version = document.Version;
    if (version !== undefined && (typeof version !== 'string' || !VERSIONS.has(version))) {
      return { ok: false, error: `Version must be "2012-10-17" or "2008-10-17", got ${describeValue(version)}` };
    }
    const list = Array.isArray(statement) ? statement : [statement];
    return { ok: true, statements: list.map((s, i) => normalizeOne(s, i, kind)) };
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  }
}

/** The resource that actions without resource types are authorized against. */
export const STAR_RESOURCE = '*';

/**
 * Whether a Resource pattern matches the resource `*` of the actions without resource types. A
 * pattern of `*` alone does; IAM documents nothing for one such as `?` or `?*`, which matches the
 * one-character string `*` only by wildcard. `certainly` asks for the first (what a Deny needs to
 * remove, and an Allow's NotResource to leave out); otherwise a wildcard match is enough.
 */
export function matchesStarResource(pattern: string, certainly: boolean): boolean {
  return certainly ? /^\*+$/.test(pattern) : wildcardMatch(pattern, STAR_RESOURCE);
}

/**
 * Whether a Resource or NotResource list covers the resource `*`, read on the side that reports
 * more: an Allow reaches it with any pattern that may match it, a Deny only with one that does.
 */
export function coversStarResource(resources: string[] | null, notResources: string[] | null, allow: boolean): boolean {
  if (resources) return resources.some((p) => matchesStarResource(p, !allow));
  if (notResources) return !notResources.some((p) => matchesStarResource(p, allow));
  return true;
}

/** `*` and `*:*` in any case mean every action of every service. */
export function isAllActions(action: string): boolean {
  return action === '*' || action === '*:*';
}

/** How a statement names itself in a finding: its Sid, or its position. */
export function statementLabel(statement: Pick<NormalizedStatement, 'sid' | 'index'>): string {
  return statement.sid ? `Sid ${statement.sid}` : `statement #${statement.index}`;
}

/**
 * The one wildcard matcher: a `*` of the pattern takes any run of the value's characters, and any
 * other pattern character takes one value character when `symbolMatches(patternChar, valueChar)`
 * says so. Callers decide what a symbol matches: IAM's `?` and literal characters for
 * wildcardMatch, symbols of another pattern for patterns.ts's inclusion.
 *
 * A linear scan that backtracks only to the last `*`: at most pattern × value steps. Policy text
 * is not ours to trust, and a backtracking regular expression takes exponential time on runs of
 * wildcards.
 */
export function starMatch(pattern: string, value: string, symbolMatches: (p: string, v: string) => boolean): boolean {
  let p = 0;
  let v = 0;
  let star = -1;
  let resume = 0;
  while (v < value.length) {
    if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      resume = v;
    } else if (p < pattern.length && symbolMatches(pattern[p]!, value[v]!)) {
      p++;
      v++;
    } else if (star >= 0) {
      p = star + 1;
      v = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

const iamSymbol = (p: string, v: string): boolean => p === '?' || p === v;

/**
 * IAM's wildcard match for ARNs and action names: `*` any run of characters, `?` one character,
 * case-sensitive for ARNs (IAM is), so callers lowercase actions themselves. Linear: see starMatch.
 */
export function wildcardMatch(pattern: string, value: string): boolean {
  // Most patterns are `*` or literal ARNs: equality decides those without the scan.
  if (pattern === '*') return true;
  if (!pattern.includes('*') && !pattern.includes('?')) return pattern === value;
  return starMatch(pattern, value, iamSymbol);
}
