/**
 * Effective access: what IAM would allow a principal, evaluated the way IAM evaluates (an
 * explicit Deny anywhere wins; otherwise every applicable layer must allow: the identity
 * policies, the permissions boundary when set, and each level of guardrails such as SCPs).
 *
 * Access is decided over the whole IAM action catalogue, per action and over every resource of
 * the action's resource types (their ARN templates), never by the shape of one statement:
 * - an action with no resource types is authorized against `*` only, so a Resource such as
 *   `arn:*` does not reach it;
 * - a Deny removes exactly what it covers, and Denies split over statements add up;
 * - a Deny under a Condition removes nothing (it may not apply); an Allow under a Condition is
 *   a conditional grant, evaluated in the `conditional` view only.
 * Pure and principal-agnostic: users and roles are evaluated alike.
 */
import { ActionSet, VARIABLE, catalogue, type Catalogue } from './catalogue.ts';
import { includes, overlaps } from './patterns.ts';
import {
  STAR_RESOURCE,
  coversStarResource,
  isAllActions,
  matchesStarResource,
  statementLabel,
  wildcardMatch,
  type NormalizedStatement,
} from './statements.ts';
import { resolvePolicyVariables, statementCovers, statementCoversResource, type PolicyVariables } from './grants.ts';

/** Where a statement comes from, as a finding names it. */
export interface StatementOrigin {
  policy: string;
  policyArn?: string;
  /** `user`, `group`, `role`: identity policies; `boundary`; `guardrail` (an SCP level). */
  via: string;
  group?: string;
  inline?: boolean;
  /** Readable form: `directly via policy X`, `via group G, policy X`. */
  path: string;
}

export interface SourcedStatement {
  origin: StatementOrigin;
  statement: NormalizedStatement;
}

export interface PrincipalPolicies {
  arn: string;
  variables?: PolicyVariables;
  identity: SourcedStatement[];
  boundary?: { arn: string; name: string; statements: SourcedStatement[] };
  /** Each level must allow (root, OUs, account); any Deny removes. The management account has none. */
  guardrails?: Array<{ name: string; statements: SourcedStatement[] }>;
}

/** Which layers a question is asked under. */
export interface View {
  conditional: boolean;
  boundary: boolean;
  guardrails: boolean;
}

export type Decision = 'allow' | 'conditional' | 'denied' | 'implicit';

export { STAR_RESOURCE };

interface Compiled {
  /** One number per distinct compiled statement (copies for other sources keep it). */
  id: number;
  source: SourcedStatement;
  allow: boolean;
  conditional: boolean;
  /** Actions the Action/NotAction element matches. */
  actions: ActionSet;
  /** Actions it covers on every resource they are authorized against. */
  everywhere: ActionSet;
  /** Actions it covers on at least one of their resources. */
  touched: ActionSet;
  /** Whether its actions are most of the catalogue (all actions, or NotAction of a few). */
  wide: boolean;
  resources: string[] | null;
  notResources: string[] | null;
}

const patternCache = new Map<string, ActionSet>();

function actionsMatching(cat: Catalogue, raw: string): ActionSet {
  const pattern = raw.toLowerCase();
  let set = patternCache.get(pattern);
  if (set) return set;
  if (isAllActions(pattern)) {
    set = ActionSet.all(cat.size);
  } else {
    set = new ActionSet(cat.size);
    const colon = pattern.indexOf(':');
    const service = colon > 0 ? pattern.slice(0, colon) : null;
    const literalService = service !== null && !/[*?]/.test(service);
    if (!/[*?]/.test(pattern)) {
      const i = cat.indexOf.get(pattern);
      if (i !== undefined) set.add(i);
    } else if (literalService) {
      const id = cat.services.indexOf(service);
      if (id >= 0) {
        const [start, end] = cat.serviceRange[id]!;
        for (let i = start; i < end; i++) if (wildcardMatch(pattern, cat.actions[i]!)) set.add(i);
      }
    } else {
      for (let i = 0; i < cat.size; i++) if (wildcardMatch(pattern, cat.actions[i]!)) set.add(i);
    }
  }
  if (patternCache.size > 50_000) patternCache.clear();
  patternCache.set(pattern, set);
  return set;
}

function actionSetOf(cat: Catalogue, statement: NormalizedStatement): ActionSet {
  const union = new ActionSet(cat.size);
  for (const p of statement.actions ?? statement.notActions ?? []) union.or(actionsMatching(cat, p));
  return statement.notActions ? ActionSet.all(cat.size).andNot(union) : union;
}

function hasVariables(statement: NormalizedStatement): boolean {
  return someHasVariable(statement.resources) || someHasVariable(statement.notResources);
}

function someHasVariable(patterns: string[] | null): boolean {
  if (patterns) for (let k = 0; k < patterns.length; k++) if (patterns[k]!.includes('${')) return true;
  return false;
}

/**
 * What is kept for one `partition|account` scope: its filled templates, its resource patterns'
 * relations to them, its compiled statements and its principals' shared states. An organization
 * run passes through hundreds of accounts, a few dozen at a time: the oldest scope goes first
 * once SCOPES_KEPT are held, so the caches hold the accounts in flight, not every account
 * audited. A scope asked for again is filled again, the same (the caches are memos).
 */
interface ScopeCaches {
  templates: string[] | null;
  relations: Map<string, TemplateRelation>;
  /**
   * Compiled statements by what decides them (effect, elements, whether conditional, and the
   * principal when its policy variables appear): one copy per distinct statement, however many
   * users' inline policies repeat it.
   */
  compiled: Map<string, Compiled>;
  /** By catalogue, then by signature (the compiled statements of each layer). */
  shared: WeakMap<Catalogue, Map<string, Shared>>;
}
/** More than an organization run audits at once by default (20), far fewer than it passes through. */
const SCOPES_KEPT = 64;
const scopes = new Map<string, ScopeCaches>();

function scopeCaches(scope: string): ScopeCaches {
  let caches = scopes.get(scope);
  if (!caches) {
    if (scopes.size >= SCOPES_KEPT) scopes.delete(scopes.keys().next().value!);
    caches = { templates: null, relations: new Map(), compiled: new Map(), shared: new WeakMap() };
    scopes.set(scope, caches);
  }
  return caches;
}
/** Ids are never reused, even when the caches are cleared. */
let nextCompiledId = 0;
const objectCache = new WeakMap<NormalizedStatement, Map<string, Compiled>>();

function rememberByObject(statement: NormalizedStatement, scope: string, compiled: Compiled): void {
  let byScope = objectCache.get(statement);
  if (!byScope) {
    byScope = new Map();
    objectCache.set(statement, byScope);
  }
  byScope.set(scope, compiled);
}

/**
 * The templates in the audited account: its partition, and its account ID where the template
 * names an account. Effective access is about the account's own resources: another account's
 * need that account's resource policies as well.
 */
function partitionTemplates(cat: Catalogue, scope: string): string[] {
  const caches = scopeCaches(scope);
  if (!caches.templates) {
    const [partition, account] = scope.split('|') as [string, string];
    caches.templates = cat.templates.map((t) => t.replace('${Partition}', partition).replace('${Account}', account || VARIABLE));
  }
  return caches.templates;
}

/** `partition|account`: what the templates are filled with. */
function scopeOf(partition: string, principalArn: string): string {
  // The fifth field of the ARN, found without splitting the whole string.
  let start = 0;
  for (let field = 0; field < 4 && start >= 0; field++) {
    const colon = principalArn.indexOf(':', start);
    start = colon < 0 ? -1 : colon + 1;
  }
  const end = start < 0 ? -1 : principalArn.indexOf(':', start);
  const account = start < 0 ? '' : principalArn.slice(start, end < 0 ? undefined : end);
  return `${partition}|${/^\d{12}$/.test(account) ? account : ''}`;
}

/** The service segment of an ARN pattern or template. */
function serviceSegment(pattern: string): string {
  return pattern.split(':')[2] ?? '*';
}

/**
 * Whether two patterns can agree on their literal heads: `arn:aws:s3:::x*` and the template
 * `arn:aws:iam::*:user/*` part at `s` / `i`, so neither includes nor overlaps the other. A cheap
 * filter in front of the exact relations, which are quadratic.
 */
function headsAgree(p: string, q: string): boolean {
  for (let i = 0; i < p.length && i < q.length; i++) {
    const a = p[i]!;
    const b = q[i]!;
    if (a === '*' || b === '*' || b === VARIABLE) return true;
    if (a !== b && a !== '?' && b !== '?') return false;
  }
  return true;
}

interface TemplateRelation {
  cover: (t: number) => boolean;
  overlap: (t: number) => boolean;
}

/** One resource pattern against every template of the catalogue, decided lazily and kept. */
function patternTemplates(cat: Catalogue, scope: string, pattern: string): TemplateRelation {
  const relations = scopeCaches(scope).relations;
  let relation = relations.get(pattern);
  if (relation) return relation;
  const templates = partitionTemplates(cat, scope);
  const coverMemo = new Int8Array(templates.length);
  const overlapMemo = new Int8Array(templates.length);
  relation = {
    cover: (t) => {
      if (coverMemo[t] === 0) coverMemo[t] = headsAgree(pattern, templates[t]!) && includes(pattern, templates[t]!) ? 1 : 2;
      return coverMemo[t] === 1;
    },
    overlap: (t) => {
      if (overlapMemo[t] === 0) {
        const tpl = templates[t]!;
        // A template whose service is a variable (AWS Backup's recovery points of other services)
        // is reached only by a pattern that leaves the service open, not by one naming `iam`.
        const generic = serviceSegment(tpl) === VARIABLE && !/[*?]/.test(serviceSegment(pattern));
        overlapMemo[t] = !generic && headsAgree(pattern, tpl) && overlaps(pattern, tpl) ? 1 : 2;
      }
      return overlapMemo[t] === 1;
    },
  };
  if (relations.size > 20_000) relations.clear();
  relations.set(pattern, relation);
  return relation;
}

function compile(cat: Catalogue, source: SourcedStatement, scope: string, variables?: PolicyVariables): Compiled {
  const { statement } = source;
  const personal = variables !== undefined && hasVariables(statement);
  // Documents read once are shared by every principal they reach: the statement object is key enough.
  const byObject = personal ? undefined : objectCache.get(statement)?.get(scope);
  if (byObject) return byObject.source === source ? byObject : { ...byObject, source };
  const compileCache = scopeCaches(scope).compiled;
  const key = JSON.stringify([
    personal ? [variables.username, variables.userid] : null,
    statement.effect,
    statement.condition !== null,
    statement.actions,
    statement.notActions,
    statement.resources,
    statement.notResources,
  ]);
  const cached = compileCache.get(key);
  if (cached) {
    if (!personal) rememberByObject(statement, scope, cached);
    return cached.source === source ? cached : { ...cached, source };
  }
  const resolve = (list: string[] | null) => (list ? list.map((r) => (personal ? resolvePolicyVariables(r, variables) : r)) : null);
  const resources = resolve(statement.resources);
  const notResources = resolve(statement.notResources);
  const relations = (resources ?? notResources ?? []).map((p) => patternTemplates(cat, scope, p));
  const coverMemo = new Int8Array(cat.templates.length);
  const touchMemo = new Int8Array(cat.templates.length);
  // A statement with neither element (trust policies, SCP shorthand) applies to every resource.
  const coversTemplate = (t: number): boolean => {
    if (coverMemo[t] === 0) {
      const yes = resources ? relations.some((r) => r.cover(t)) : notResources ? !relations.some((r) => r.overlap(t)) : true;
      coverMemo[t] = yes ? 1 : 2;
    }
    return coverMemo[t] === 1;
  };
  const touchesTemplate = (t: number): boolean => {
    if (touchMemo[t] === 0) {
      const yes = resources ? relations.some((r) => r.overlap(t)) : notResources ? !relations.some((r) => r.cover(t)) : true;
      touchMemo[t] = yes ? 1 : 2;
    }
    return touchMemo[t] === 1;
  };
  const coversStar = coversStarResource(resources, notResources, statement.effect === 'Allow');
  const actions = actionSetOf(cat, statement);
  // `*` (or no resource element) covers every resource of every action, `*` itself included.
  const everyResource = resources ? resources.includes(STAR_RESOURCE) : notResources === null;
  const everywhere = everyResource ? actions.clone() : new ActionSet(cat.size);
  const touched = everyResource ? actions.clone() : new ActionSet(cat.size);
  for (const i of everyResource ? [] : actions.indexes()) {
    const types = cat.templatesOf[i]!;
    if (types.length === 0) {
      if (coversStar) {
        everywhere.add(i);
        touched.add(i);
      }
      continue;
    }
    if (types.every(coversTemplate)) everywhere.add(i);
    if (types.some(touchesTemplate)) touched.add(i);
  }
  const compiled: Compiled = {
    id: nextCompiledId++,
    source,
    allow: statement.effect === 'Allow',
    conditional: statement.condition !== null,
    actions,
    everywhere,
    touched,
    wide: isMostActions(actions, cat),
    resources,
    notResources,
  };
  if (compileCache.size > 100_000) compileCache.clear();
  compileCache.set(key, compiled);
  if (!personal) rememberByObject(statement, scope, compiled);
  return compiled;
}

/** What a Deny or a grant leaves out, summarized by service for a reader. */
export interface ActionSummary {
  /** `iam:*` for a whole service, `iam:PutUserPolicy` for single actions, at most `limit` entries. */
  items: string[];
  /** Entries beyond the limit. */
  more: number;
  actions: number;
  services: number;
}

export function summarize(set: ActionSet, limit = 8, cat: Catalogue = catalogue()): ActionSummary {
  const whole: string[] = [];
  const partial: string[] = [];
  let services = 0;
  for (let s = 0; s < cat.services.length; s++) {
    const [start, end] = cat.serviceRange[s]!;
    const n = set.countRange(start, end);
    if (n === 0) continue;
    services++;
    if (n === end - start) whole.push(`${cat.services[s]}:*`);
    else if (n > 3) partial.push(`${cat.services[s]} (${n} of ${end - start} actions)`);
    else for (let i = start; i < end; i++) if (set.has(i)) partial.push(cat.names[i]!);
  }
  const all = [...whole, ...partial];
  return { items: all.slice(0, limit), more: Math.max(0, all.length - limit), actions: set.count(), services };
}

export function describeSummary(summary: ActionSummary): string {
  return summary.more > 0 ? `${summary.items.join(', ')} and ${summary.more} more` : summary.items.join(', ');
}

/** Services whose every action the set holds. */
export function wholeServices(set: ActionSet, cat: Catalogue = catalogue()): number {
  let n = 0;
  const ranges = cat.serviceRange;
  for (let s = 0; s < ranges.length; s++) {
    const [start, end] = ranges[s]!;
    if (end > start && set.hasRange(start, end)) n++;
  }
  return n;
}

/**
 * "Most of the catalogue": every action of at least half of its services. An action set this
 * wide is reported as "all actions except" what it lacks; a narrower one is listed for what it
 * holds. Read-only access, for example, holds no service whole.
 */
export function isMostActions(set: ActionSet, cat: Catalogue = catalogue()): boolean {
  return wholeServices(set, cat) * 2 >= cat.services.length;
}

/** One resource (or resource pattern) on which all actions remain allowed. */
export interface ResourceGrant {
  resource: string;
  /** Actions allowed there, of those that can be authorized against it. */
  allowed: number;
  applicable: number;
  contributors: SourcedStatement[];
}

export type AccessClass =
  | { kind: 'full'; contributors: SourcedStatement[] }
  | {
      kind: 'all-except';
      /** Actions not allowed on any resource. */
      excluded: ActionSummary;
      /** Resources the grant stops short of (NotResource of the Allows, Resource of partial Denies). */
      exceptResources: string[];
      contributors: SourcedStatement[];
    }
  | { kind: 'on-resources'; resources: ResourceGrant[] };

const applicableCache = new Map<string, ActionSet>();
const emptySets = new Map<number, ActionSet>();

/** One shared empty set per catalogue size: read, never written. */
function emptySet(size: number): ActionSet {
  let set = emptySets.get(size);
  if (!set) {
    set = new ActionSet(size);
    emptySets.set(size, set);
  }
  return set;
}

let scopedServices: Set<string> | undefined;

/** ARN services whose resources all live in an account, this one or AWS's own (IAM; not S3). */
function accountScopedServices(cat: Catalogue): Set<string> {
  if (!scopedServices) {
    const verdict = new Map<string, boolean>();
    for (const t of cat.templates) {
      const parts = t.split(':');
      const service = parts[2] ?? '';
      // biome-ignore lint/suspicious/noControlCharactersInRegex: \u0001 is the catalogue's template variable (VARIABLE)
      if (/[*\u0001]/.test(service)) continue;
      verdict.set(service, (verdict.get(service) ?? true) && (parts[4] === '${Account}' || parts[4] === 'aws'));
    }
    scopedServices = new Set([...verdict].filter(([, v]) => v).map(([k]) => k));
  }
  return scopedServices;
}

/** What one guardrail level takes away from a principal's grants (EffectiveAccess.guardrailEffects). */
export interface GuardrailEffect {
  level: string;
  removed: ActionSummary;
  /** What the level leaves of the grants. */
  kept: ActionSummary;
  allows: SourcedStatement[];
  denies: SourcedStatement[];
}

/** Whether SCP levels alone leave a FAIL class, by levels and `partition|account`. */
const guardrailVerdicts = new WeakMap<object, Map<string, boolean>>();

/** A policy granting everything: what a principal writes into its own policies when it can. */
const ANY_POLICY: SourcedStatement = {
  origin: { policy: 'a policy it writes', via: 'user', path: 'a policy it writes itself' },
  statement: {
    index: 0,
    sid: null,
    effect: 'Allow',
    actions: ['*'],
    notActions: null,
    resources: ['*'],
    notResources: null,
    principal: null,
    notPrincipal: null,
    condition: null,
  },
};

/** An access class with its contributors as positions in the principal's identity statements. */
type ClassShape =
  | { kind: 'full'; contributors: number[] }
  | { kind: 'all-except'; excluded: ActionSummary; exceptResources: string[]; contributors: number[] }
  | { kind: 'on-resources'; resources: Array<Omit<ResourceGrant, 'contributors'> & { contributors: number[] }> };

/**
 * What principals with the same compiled statements share: everything decided from the
 * statements alone. Sources (which name each principal's own paths) are kept as positions.
 */
interface Shared {
  /** By view slot (viewSlot). */
  views: Array<ActionSet | undefined>;
  mayAllow: Map<string, Int8Array>;
  mayAllowAny: Map<string, boolean>;
  classes: Array<ClassShape[] | undefined>;
  effectiveDenies: Array<number[] | undefined>;
  /** Point decisions by action, then view slot (GUARDRAIL_SLOT: the guardrails alone), then resource. */
  decisions: Map<string, Array<Map<string, Decision> | undefined>>;
  /** By catalogue action: the statements that name it. */
  relevant: Map<number, { key: string; identity: number[] }>;
  /** The identity Allows covering a request, by action, then resource (see allowsFor). */
  allowsFor: Map<string, Map<string, number[]>>;
}

function sharedState(cat: Catalogue, scope: string, signature: string): Shared {
  const sharedStates = scopeCaches(scope).shared;
  let bySignature = sharedStates.get(cat);
  if (!bySignature) {
    bySignature = new Map();
    sharedStates.set(cat, bySignature);
  }
  let shared = bySignature.get(signature);
  if (!shared) {
    shared = {
      views: [],
      mayAllow: new Map(),
      mayAllowAny: new Map(),
      classes: [],
      effectiveDenies: [],
      decisions: new Map(),
      relevant: new Map(),
      allowsFor: new Map(),
    };
    // Kept across runs (a warm Lambda): a few thousand signatures, each holding some action sets.
    if (bySignature.size > 5_000) bySignature.clear();
    bySignature.set(signature, shared);
  }
  return shared;
}

interface RequestAnswers {
  decisions: Map<string, Map<string, Decision>>;
  allowsFor: Map<string, Map<string, number[]>>;
}

/** Point answers by the statements that name the action (EffectiveAccess.decisionsOf), per catalogue. */
const answersByCatalogue = new WeakMap<Catalogue, RequestAnswers>();

const GUARDRAIL_SLOT = 4;

/** The answers kept under one key, by resource; bounded like the other caches. */
function sharedAnswers<T>(all: Map<string, Map<string, T>>, key: string): Map<string, T> {
  let answers = all.get(key);
  if (!answers) {
    answers = new Map();
    if (all.size > 20_000) all.clear();
    all.set(key, answers);
  }
  return answers;
}

function requestAnswers(cat: Catalogue): RequestAnswers {
  let answers = answersByCatalogue.get(cat);
  if (!answers) {
    answers = { decisions: new Map(), allowsFor: new Map() };
    answersByCatalogue.set(cat, answers);
  }
  return answers;
}

function compileAll(cat: Catalogue, sources: SourcedStatement[], scope: string, variables: PolicyVariables | undefined): Compiled[] {
  const out: Compiled[] = new Array(sources.length);
  for (let k = 0; k < sources.length; k++) out[k] = compile(cat, sources[k]!, scope, variables);
  return out;
}

/** The compiled statements' ids, in order: one part of a signature. */
function idsOf(list: Compiled[]): string {
  let ids = '';
  for (let k = 0; k < list.length; k++) ids += k === 0 ? `${list[k]!.id}` : `,${list[k]!.id}`;
  return ids;
}

/** A view as a slot number, 0 to 7. */
const viewSlot = (view: View): number => (view.conditional ? 4 : 0) + (view.boundary ? 2 : 0) + (view.guardrails ? 1 : 0);

export class EffectiveAccess {
  readonly cat: Catalogue;
  private readonly identity: Compiled[];
  private readonly boundary: Compiled[] | null;
  private readonly guardrails: Compiled[][];
  /** Shared by every principal whose layers compile to the same statements, in the same order. */
  private readonly shared: Shared;
  /** `partition|account` the templates are filled with. */
  private readonly scope: string;
  /** Position of each source among identity, boundary and guardrail statements, in that order. */
  private positions?: Map<SourcedStatement, number>;

  constructor(
    readonly principal: PrincipalPolicies,
    readonly partition: string,
    cat: Catalogue = catalogue(),
  ) {
    this.cat = cat;
    this.scope = scopeOf(partition, principal.arn);
    const { variables } = principal;
    this.identity = compileAll(cat, principal.identity, this.scope, variables);
    this.boundary = principal.boundary ? compileAll(cat, principal.boundary.statements, this.scope, variables) : null;
    this.guardrails = (principal.guardrails ?? []).map((level) => compileAll(cat, level.statements, this.scope, variables));
    const signature = `${this.scope}#${idsOf(this.identity)}#${this.boundary ? idsOf(this.boundary) : '-'}#${this.guardrails.length}:${this.guardrails.map(idsOf).join(';')}`;
    this.shared = sharedState(cat, this.scope, signature);
  }

  /** Point answers are kept per request: bounded, as every principal adds its own ARN's. */
  private remember<T>(map: Map<string, T>, key: string, value: T): void {
    if (map.size > 100_000) map.clear();
    map.set(key, value);
  }

  /** Every statement of the principal, in the order positions count them. */
  private allStatements(): Compiled[] {
    return [this.identity, this.boundary ?? [], ...this.guardrails].flat();
  }

  private positionOf(source: SourcedStatement): number {
    if (!this.positions) {
      this.positions = new Map();
      this.allStatements().forEach((s, i) => {
        if (!this.positions!.has(s.source)) this.positions!.set(s.source, i);
      });
    }
    const i = this.positions.get(source);
    if (i === undefined) throw new Error(`statement ${statementLabel(source.statement)} is not one of the principal's`);
    return i;
  }

  private sourcesAt(positions: number[]): SourcedStatement[] {
    const all = positions.some((i) => i >= this.identity.length) ? this.allStatements() : this.identity;
    return positions.map((i) => all[i]!.source);
  }

  get hasBoundary(): boolean {
    return this.boundary !== null;
  }

  get hasGuardrails(): boolean {
    return this.guardrails.length > 0;
  }

  private layers(view: View): Compiled[][] {
    const out: Compiled[][] = [];
    if (view.boundary && this.boundary) out.push(this.boundary);
    if (view.guardrails) out.push(...this.guardrails);
    return out;
  }

  private denies(view: View): Compiled[] {
    return [this.identity, ...this.layers(view)].flat().filter((s) => !s.allow && !s.conditional);
  }

  private grants(list: Compiled[], view: View): Compiled[] {
    return list.filter((s) => s.allow && (view.conditional || !s.conditional));
  }

  /** Actions allowed on every resource they are authorized against, under the view. */
  everywhere(view: View): ActionSet {
    const key = viewSlot(view);
    let set = this.shared.views[key];
    if (set) return set;
    // Views are read, never written: an unchanged single statement's set is returned as it is.
    set = this.unionEverywhere(this.grants(this.identity, view));
    const layers = this.layers(view);
    const denies = this.denies(view).filter((d) => d.touched.intersects(set!));
    if (layers.length > 0 || denies.length > 0) {
      set = set.clone();
      for (const layer of layers) set.and(this.unionEverywhere(this.grants(layer, view)));
      for (const d of denies) set.andNot(d.touched);
    }
    this.shared.views[key] = set;
    return set;
  }

  /**
   * Actions some Allows of one layer grant on every resource, together: each statement's own,
   * and those that NotResource statements leave out only where another Allow of the action
   * covers what they leave out (`Allow * NotResource r` with `Allow * on r`).
   */
  private unionEverywhere(allows: Compiled[]): ActionSet {
    if (allows.length === 0) return emptySet(this.cat.size);
    const partial0 = allows.some((s) => s.notResources !== null);
    if (allows.length === 1 && !partial0) return allows[0]!.everywhere;
    const set = new ActionSet(this.cat.size);
    for (const s of allows) set.or(s.everywhere);
    if (!partial0) return set;
    const partial = allows.filter((s) => s.notResources !== null && !s.everywhere.equals(s.actions));
    if (partial.length === 0) return set;
    for (const s of partial) {
      const relations = s.notResources!.map((n) => [n, patternTemplates(this.cat, this.scope, n)] as const);
      const starGaps = s.notResources!.filter((n) => matchesStarResource(n, true));
      const others = new ActionSet(this.cat.size);
      for (const o of allows) if (o !== s) others.or(o.actions);
      const covers = new Map<string, ActionSet>();
      const cover = (gap: string) => {
        let c = covers.get(gap);
        if (!c) {
          c = gapCover(s, allows, (o) => coversPattern(o, gap), this.cat.size);
          covers.set(gap, c);
        }
        return c;
      };
      let starCover: ActionSet | undefined;
      const coverStar = () =>
        (starCover ??= gapCover(s, allows, (o) => coversStarResource(o.resources, o.notResources, o.allow), this.cat.size));
      const missing = s.actions.clone().andNot(set);
      for (const a of missing.indexes()) {
        if (!others.has(a)) continue;
        const types = this.cat.templatesOf[a]!;
        const filled =
          types.length === 0
            ? starGaps.length === 0 || coverStar().has(a)
            : types.every((t) => relations.filter(([, r]) => r.overlap(t)).every(([n]) => cover(n).has(a)));
        if (filled) set.add(a);
      }
    }
    return set;
  }

  /** Every catalogue action on every resource, under the view. */
  isFull(view: View): boolean {
    return this.everywhere(view).isAll();
  }

  /**
   * What each guardrail level takes away from what the identity policies grant on every resource
   * (the view decides whether conditional Allows count): the actions its Allows leave out, and
   * those its unconditional Denies reach. `allows` names the level's Allows when they fall short,
   * `denies` the Denies that remove something. Levels that take nothing away are left out.
   */
  guardrailEffects(view: View): GuardrailEffect[] {
    if (!view.guardrails || this.guardrails.length === 0) return [];
    const granted = this.unionEverywhere(this.grants(this.identity, view));
    const out: GuardrailEffect[] = [];
    this.guardrails.forEach((level, i) => {
      const removed = granted.clone().andNot(this.unionEverywhere(this.grants(level, view)));
      const short = !removed.isEmpty();
      const denies = level.filter((s) => !s.allow && !s.conditional && s.touched.intersects(granted));
      for (const d of denies) removed.or(d.touched.clone().and(granted));
      if (removed.isEmpty()) return;
      out.push({
        level: this.principal.guardrails![i]!.name,
        removed: summarize(removed, 8, this.cat),
        kept: summarize(granted.clone().andNot(removed), 8, this.cat),
        allows: short ? this.grants(level, view).map((s) => s.source) : [],
        denies: denies.map((d) => d.source),
      });
    });
    return out;
  }

  /**
   * Whether the guardrails alone leave one of the classes of `classes` (even conditionally): what
   * the principal could reach by writing its own policies. Without guardrails, true.
   */
  guardrailsLeaveFailClass(): boolean {
    const levels = this.principal.guardrails;
    if (!levels || this.guardrails.length === 0) return true;
    // The same levels bind every principal of the account: decided once per levels and account.
    let byScope = guardrailVerdicts.get(levels);
    if (!byScope) {
      byScope = new Map();
      guardrailVerdicts.set(levels, byScope);
    }
    let verdict = byScope.get(this.scope);
    if (verdict === undefined) {
      const alone = new EffectiveAccess({ arn: this.principal.arn, identity: [ANY_POLICY], guardrails: levels }, this.partition, this.cat);
      verdict = alone.classes({ conditional: true, boundary: false, guardrails: true }).length > 0;
      byScope.set(this.scope, verdict);
    }
    return verdict;
  }

  /** The identity Allows that grant part of `set` on every resource. */
  contributors(set: ActionSet, view: View): SourcedStatement[] {
    return this.grants(this.identity, view)
      .filter((s) => s.everywhere.intersects(set))
      .map((s) => s.source);
  }

  /** Denies (unconditional) that take away something an identity Allow grants. */
  effectiveDenies(view: View): SourcedStatement[] {
    const key = viewSlot(view);
    let positions = this.shared.effectiveDenies[key];
    if (!positions) {
      positions = this.findEffectiveDenies(view).map((s) => this.positionOf(s));
      this.shared.effectiveDenies[key] = positions;
    }
    return this.sourcesAt(positions);
  }

  private findEffectiveDenies(view: View): SourcedStatement[] {
    if (!this.denies(view).length) return [];
    const granted = new ActionSet(this.cat.size);
    for (const s of this.grants(this.identity, { ...view, conditional: true })) granted.or(s.actions);
    return this.denies(view)
      .filter((d) => d.touched.intersects(granted))
      .map((d) => d.source);
  }

  /**
   * Whether any identity Allow names the action at all (on any resource, under any condition):
   * a cheap filter in front of `decide`. Actions outside the catalogue are not filtered.
   */
  mayAllow(action: string): boolean {
    let may = this.shared.mayAllowAny.get(action);
    if (may === undefined) {
      const i = this.cat.indexOf.get(action.toLowerCase());
      may = i === undefined || this.identity.some((s) => s.allow && s.actions.has(i));
      this.shared.mayAllowAny.set(action, may);
    }
    return may;
  }

  /**
   * Whether some request of the action can be allowed under the view's layers: an identity Allow
   * names it, every layer has an Allow that reaches it somewhere, and no unconditional Deny takes
   * it away on every resource. A cheap filter in front of `decide` (false: `decide` never allows).
   */
  mayAllowUnder(action: string, view: Omit<View, 'conditional'>): boolean {
    // Asked once per target of every user: kept by action as written, one slot per view.
    let slots = this.shared.mayAllow.get(action);
    if (!slots) {
      slots = new Int8Array(4);
      this.shared.mayAllow.set(action, slots);
    }
    const slot = (view.boundary ? 2 : 0) + (view.guardrails ? 1 : 0);
    if (slots[slot] === 0) {
      const i = this.cat.indexOf.get(action.toLowerCase());
      const all = { ...view, conditional: true };
      const may =
        i === undefined ||
        (this.identity.some((s) => s.allow && s.actions.has(i)) &&
          this.layers(all).every((layer) => layer.some((s) => s.allow && s.touched.has(i))) &&
          !this.denies(all).some((d) => d.everywhere.has(i)));
      slots[slot] = may ? 1 : 2;
    }
    return slots[slot] === 1;
  }

  /**
   * The guardrails' part of one request: what a grant that needs no identity Allow still needs (a
   * same-account trust policy naming the principal). Every SCP level must allow it; a boundary
   * does not limit such a grant. Denies are `decide`'s.
   */
  guardrailDecision(action: string, resource: string): 'allow' | 'conditional' | 'implicit' {
    const decisions = this.decisionsOf(action, GUARDRAIL_SLOT);
    let decision = decisions.get(resource);
    if (decision === undefined) {
      decision = this.findGuardrailDecision(action, resource);
      this.remember(decisions, resource, decision);
    }
    return decision as 'allow' | 'conditional' | 'implicit';
  }

  private findGuardrailDecision(action: string, resource: string): 'allow' | 'conditional' | 'implicit' {
    const i = this.cat.indexOf.get(action.toLowerCase());
    const target = i !== undefined && this.cat.templatesOf[i]!.length === 0 ? STAR_RESOURCE : resource;
    let conditional = false;
    for (const level of this.guardrails) {
      const reach = this.allowReach(level, i, action, target);
      if (reach === 0) return 'implicit';
      if (reach === 1) conditional = true;
    }
    return conditional ? 'conditional' : 'allow';
  }

  /** How a layer's Allows cover one request: 0 none, 1 only conditionally, 2 unconditionally. */
  private allowReach(layer: Compiled[], i: number | undefined, action: string, target: string): 0 | 1 | 2 {
    let reach: 0 | 1 | 2 = 0;
    for (let k = 0; k < layer.length; k++) {
      const s = layer[k]!;
      if (!s.allow || !this.covers(s, i, action, target)) continue;
      if (!s.conditional) return 2;
      reach = 1;
    }
    return reach;
  }

  /**
   * Whether a statement covers one request. A catalogue action is matched by its index in the
   * statement's action set (which the same patterns built); any other by the patterns themselves.
   */
  private covers(s: Compiled, i: number | undefined, action: string, target: string): boolean {
    if (i === undefined) return statementCovers(s.source.statement, action, target, this.principal.variables);
    return s.actions.has(i) && statementCoversResource(s.source.statement, target, this.principal.variables);
  }

  /** Point evaluation of one request, through every layer of the view. */
  decide(action: string, resource: string, view: Omit<View, 'conditional'> = { boundary: true, guardrails: true }): Decision {
    const decisions = this.decisionsOf(action, (view.boundary ? 2 : 0) + (view.guardrails ? 1 : 0));
    let decision = decisions.get(resource);
    if (decision === undefined) {
      decision = this.findDecision(action, resource, view);
      this.remember(decisions, resource, decision);
    }
    return decision;
  }

  /**
   * Where the decisions of one action under one view are kept, by resource. A point decision
   * reads only the statements whose actions hold the requested one (and which layers there are):
   * for a catalogue action, every principal with the same such statements shares them. Other
   * actions are kept per signature.
   */
  private decisionsOf(action: string, slot: number): Map<string, Decision> {
    let slots = this.shared.decisions.get(action);
    if (!slots) {
      slots = [];
      this.shared.decisions.set(action, slots);
    }
    let decisions = slots[slot];
    if (!decisions) {
      const i = this.cat.indexOf.get(action.toLowerCase());
      decisions =
        i === undefined ? new Map() : sharedAnswers(requestAnswers(this.cat).decisions, `${this.relevantTo(i).key}|${slot}|${action}`);
      slots[slot] = decisions;
    }
    return decisions;
  }

  /** The statements whose actions hold catalogue action `i`: their signature, and their positions in the identity list. */
  private relevantTo(i: number): { key: string; identity: number[] } {
    let relevant = this.shared.relevant.get(i);
    if (!relevant) {
      const ids = (list: Compiled[]) =>
        list
          .filter((s) => s.actions.has(i))
          .map((s) => s.id)
          .join(',');
      const identity: number[] = [];
      this.identity.forEach((s, k) => {
        if (s.actions.has(i)) identity.push(k);
      });
      const key = `${this.scope}#${ids(this.identity)}#${this.boundary ? ids(this.boundary) : '-'}#${this.guardrails.length}:${this.guardrails.map(ids).join(';')}`;
      relevant = { key, identity };
      this.shared.relevant.set(i, relevant);
    }
    return relevant;
  }

  private findDecision(action: string, resource: string, view: Omit<View, 'conditional'>): Decision {
    const i = this.cat.indexOf.get(action.toLowerCase());
    const target = i !== undefined && this.cat.templatesOf[i]!.length === 0 ? STAR_RESOURCE : resource;
    const all = [this.identity, ...this.layers({ ...view, conditional: true })];
    for (let l = 0; l < all.length; l++) {
      const layer = all[l]!;
      for (let k = 0; k < layer.length; k++) {
        const s = layer[k]!;
        if (!s.allow && !s.conditional && this.covers(s, i, action, target)) return 'denied';
      }
    }
    let conditional = false;
    for (let l = 0; l < all.length; l++) {
      const reach = this.allowReach(all[l]!, i, action, target);
      if (reach === 0) return 'implicit';
      if (reach === 1) conditional = true;
    }
    return conditional ? 'conditional' : 'allow';
  }

  /** The identity Allows that cover one request (for naming the path of an escalation). */
  allowsFor(action: string, resource: string): SourcedStatement[] {
    let answers = this.shared.allowsFor.get(action);
    const i = this.cat.indexOf.get(action.toLowerCase());
    // Catalogue actions: ranks among the statements that name the action, shared like decisions;
    // others: positions in this signature's identity statements.
    const relevant = i === undefined ? null : this.relevantTo(i);
    if (!answers) {
      answers = relevant ? sharedAnswers(requestAnswers(this.cat).allowsFor, `${relevant.key}|${action}`) : new Map();
      this.shared.allowsFor.set(action, answers);
    }
    const positions = relevant?.identity;
    let ranks = answers.get(resource);
    if (!ranks) {
      const target = i !== undefined && this.cat.templatesOf[i]!.length === 0 ? STAR_RESOURCE : resource;
      const count = positions ? positions.length : this.identity.length;
      ranks = [];
      for (let r = 0; r < count; r++) {
        const s = this.identity[positions ? positions[r]! : r]!;
        if (s.allow && this.covers(s, i, action, target)) ranks.push(r);
      }
      this.remember(answers, resource, ranks);
    }
    const sources: SourcedStatement[] = [];
    for (let k = 0; k < ranks.length; k++) sources.push(this.identity[positions ? positions[ranks[k]!]! : ranks[k]!]!.source);
    return sources;
  }

  /** Actions that can be authorized against a resource pattern (`*`: those with no resource types). */
  private applicable(resource: string): ActionSet {
    const key = `${this.scope}|${resource}`;
    let set = applicableCache.get(key);
    if (set) return set;
    set = new ActionSet(this.cat.size);
    if (resource === STAR_RESOURCE) {
      for (let i = 0; i < this.cat.size; i++) if (this.cat.templatesOf[i]!.length === 0) set.add(i);
    } else {
      // Templates that name their service; one whose service is a variable (AWS Backup's
      // recovery points of any service) says nothing about what "all actions on r" means.
      const relation = patternTemplates(this.cat, this.scope, resource);
      // biome-ignore lint/suspicious/noControlCharactersInRegex: \u0001 is the catalogue's template variable (VARIABLE)
      const hit = this.cat.templates.map((t, i) => !/[*\u0001]/.test(t.split(':')[2] ?? '*') && relation.overlap(i));
      for (let i = 0; i < this.cat.size; i++) if (this.cat.templatesOf[i]!.some((t) => hit[t])) set.add(i);
    }
    if (applicableCache.size > 10_000) applicableCache.clear();
    applicableCache.set(key, set);
    return set;
  }

  /** Whether a statement covers the whole of a resource pattern (the resource `*` for STAR_RESOURCE). */
  private coversResource(s: Compiled, resource: string): boolean {
    if (resource === STAR_RESOURCE) return coversStarResource(s.resources, s.notResources, s.allow);
    return coversPattern(s, resource);
  }

  /** Actions allowed on the whole of one resource pattern, under the view. */
  onResource(resource: string, view: View): { allowed: ActionSet; applicable: ActionSet; contributors: SourcedStatement[] } {
    const applicable = this.applicable(resource);
    const allowed = new ActionSet(this.cat.size);
    const contributors: SourcedStatement[] = [];
    // A statement reaches an action's part of the pattern when it covers the whole pattern, or
    // every resource of the action (the pattern may be wider than this partition's resources).
    const reach = (s: Compiled) => (this.coversResource(s, resource) ? s.actions : s.everywhere);
    for (const s of this.grants(this.identity, view)) {
      const part = reach(s);
      if (!part.intersects(applicable)) continue;
      allowed.or(part);
      contributors.push(s.source);
    }
    allowed.and(applicable);
    for (const layer of this.layers(view)) {
      const cap = new ActionSet(this.cat.size);
      for (const s of this.grants(layer, view)) cap.or(reach(s));
      allowed.and(cap);
    }
    // Only a Deny over the whole of an action's part is taken away: one over less leaves the rest
    // allowed, unless other Denies of the action cover what a NotResource Deny leaves out.
    const denies = this.denies(view);
    for (const d of denies) allowed.andNot(reach(d));
    const star = resource === STAR_RESOURCE;
    for (const d of denies) {
      if (!d.notResources || this.coversResource(d, resource)) continue;
      if (star) continue; // the resource `*` is one string: a Deny either covers it or not.
      const gaps = d.notResources.filter((n) => overlaps(n, resource));
      // A gap that holds the whole pattern: this Deny takes nothing away here.
      if (gaps.some((n) => includes(n, resource))) continue;
      const filled = d.actions.clone();
      for (const n of gaps) {
        const gap = narrowTo(n, resource);
        filled.and(gapCover(d, denies, (o) => coversPattern(o, gap), this.cat.size));
      }
      allowed.andNot(filled);
    }
    return { allowed, applicable, contributors };
  }

  /**
   * The access classes of SPEC 3.3 that hold under a view, worst first: full access; all actions
   * except a list; all actions on resources narrower than `*`. Escalation paths are the caller's.
   */
  classes(view: View): AccessClass[] {
    // Fresh objects for every caller: findings hold them.
    return this.shapesOf(view).map((c): AccessClass => {
      if (c.kind === 'on-resources')
        return { kind: c.kind, resources: c.resources.map((r) => ({ ...r, contributors: this.sourcesAt(r.contributors) })) };
      if (c.kind === 'all-except')
        return {
          ...c,
          excluded: { ...c.excluded, items: [...c.excluded.items] },
          exceptResources: [...c.exceptResources],
          contributors: this.sourcesAt(c.contributors),
        };
      return { ...c, contributors: this.sourcesAt(c.contributors) };
    });
  }

  /** The kind of the worst class that holds under the view (`classes(view)[0]?.kind`). */
  topClass(view: View): AccessClass['kind'] | undefined {
    return this.shapesOf(view)[0]?.kind;
  }

  private shapesOf(view: View): ClassShape[] {
    const key = viewSlot(view);
    let shapes = this.shared.classes[key];
    if (!shapes) {
      const at = (list: SourcedStatement[]) => list.map((s) => this.positionOf(s));
      shapes = this.findClasses(view).map((c): ClassShape => {
        if (c.kind === 'on-resources')
          return { kind: c.kind, resources: c.resources.map((r) => ({ ...r, contributors: at(r.contributors) })) };
        return { ...c, contributors: at(c.contributors) };
      });
      this.shared.classes[key] = shapes;
    }
    return shapes;
  }

  private findClasses(view: View): AccessClass[] {
    const everywhere = this.everywhere(view);
    if (everywhere.isAll()) return [{ kind: 'full', contributors: this.contributors(everywhere, view) }];
    if (isMostActions(everywhere, this.cat)) {
      const all = ActionSet.all(this.cat.size);
      const contributors = this.contributors(everywhere, view);
      // What is allowed somewhere: the rest of the gap is resources, not actions.
      const somewhere = new ActionSet(this.cat.size);
      for (const s of this.grants(this.identity, view)) somewhere.or(s.touched);
      for (const layer of this.layers(view)) {
        const cap = new ActionSet(this.cat.size);
        for (const s of this.grants(layer, view)) cap.or(s.touched);
        somewhere.and(cap);
      }
      const denies = this.denies(view);
      for (const d of denies) somewhere.andNot(d.everywhere);
      const partly = somewhere.clone().andNot(everywhere);
      const exceptResources = new Set<string>();
      if (!partly.isEmpty()) {
        for (const s of this.grants(this.identity, view)) if (s.wide) for (const r of s.notResources ?? []) exceptResources.add(r);
        for (const d of denies) {
          if (!d.touched.intersects(partly)) continue;
          for (const r of d.resources ?? []) exceptResources.add(r);
        }
      }
      const excluded = all.andNot(somewhere);
      return [{ kind: 'all-except', excluded: summarize(excluded, 8, this.cat), exceptResources: [...exceptResources], contributors }];
    }
    const resources: ResourceGrant[] = [];
    for (const resource of this.resourceCandidates(view)) {
      const { allowed, applicable, contributors } = this.onResource(resource, view);
      const n = allowed.count();
      const m = applicable.count();
      if (n > 0 && n * 2 >= m) resources.push({ resource, allowed: n, applicable: m, contributors });
    }
    return resources.length > 0 ? [{ kind: 'on-resources', resources }] : [];
  }

  /**
   * Where "all actions on <resources>" can hold: the Resource patterns of the wide grants (all
   * actions or NotAction), what a Deny's NotResource leaves, and `*` itself for the actions that
   * take no resource (which a Deny on `arn:*` does not reach).
   */
  private resourceCandidates(view: View): string[] {
    const out = new Set<string>();
    // Within the audited account: for a service whose every resource lives in an account, an
    // account segment that matches the audited one is read as it (another account's resources
    // need that account's resource policies too).
    const account = this.scope.split('|')[1] ?? '';
    const add = (r: string) => {
      const parts = r.split(':');
      const scoped = parts.length >= 6 && accountScopedServices(this.cat).has(parts[2]!);
      if (account && scoped && /[*?]/.test(parts[4]!) && wildcardMatch(parts[4]!, account)) parts[4] = account;
      out.add(parts.join(':'));
    };
    const wide = this.grants(this.identity, view).filter((s) => s.wide);
    for (const s of wide) {
      for (const r of s.resources ?? []) if (r !== STAR_RESOURCE) add(r);
      if (this.coversResource(s, STAR_RESOURCE)) out.add(STAR_RESOURCE);
    }
    // A boundary or guardrail may narrow a wide grant to its own resources; one that allows every
    // action everywhere narrows nothing, whatever other resources its statements name.
    if (wide.length > 0) {
      for (const layer of this.layers(view)) {
        const grants = this.grants(layer, view);
        if (this.unionEverywhere(grants).isAll()) continue;
        for (const s of grants) if (s.wide) for (const r of s.resources ?? []) if (r !== STAR_RESOURCE) add(r);
      }
    }
    if (wide.length > 0) for (const d of this.denies(view)) for (const r of d.notResources ?? []) add(r);
    return [...out];
  }
}

/**
 * A pattern no wider than `n` ∩ `r` where they differ only in the ARN's leading fields: a
 * wildcard field of `n` (partition, service, region, account) that `r` fixes takes `r`'s value.
 */
function narrowTo(n: string, r: string): string {
  const a = n.split(':');
  const b = r.split(':');
  if (a.length < 6 || b.length < 6 || a[0] !== 'arn' || b[0] !== 'arn') return n;
  for (let i = 1; i <= 4; i++) {
    if (/[*?]/.test(a[i]!) && !/[*?]/.test(b[i]!) && wildcardMatch(a[i]!, b[i]!)) a[i] = b[i]!;
  }
  return a.join(':');
}

/** Whether a statement covers every string of an ARN pattern (never the resource `*` sentinel). */
function coversPattern(s: Compiled, pattern: string): boolean {
  if (s.resources) return s.resources.some((p) => includes(p, pattern));
  if (s.notResources) return !s.notResources.some((m) => overlaps(m, pattern));
  return true;
}

/**
 * What other statements cover of one gap a NotResource statement `s` leaves (what one of its
 * NotResource patterns leaves out, or the resource `*`): the actions of the statements of `among`
 * but `s` that `coversGap`. An action of `s` is covered where `s` leaves it out when it is in the
 * cover of each of its gaps there: Allows that together grant it everywhere, Denies that together
 * remove it.
 */
function gapCover(s: Compiled, among: Compiled[], coversGap: (o: Compiled) => boolean, size: number): ActionSet {
  const cover = new ActionSet(size);
  for (const o of among) if (o !== s && coversGap(o)) cover.or(o.actions);
  return cover;
}

export function labelOf(source: SourcedStatement): string {
  return statementLabel(source.statement);
}
