/**
 * An account's service control policy levels (Inventory.organization.guardrails) read into the
 * statement levels effective access intersects (SPEC 3.3, 8): an action must be allowed by some
 * SCP at every level, root through each OU to the account, and a Deny at any level removes it.
 * SCPs bind every IAM user and role of a member account but its service-linked roles; the
 * management account has no level at all.
 */
import type { GuardrailLevel, Inventory } from '#lib/inventory/types.ts';
import { describeSummary, type GuardrailEffect, type PrincipalPolicies, type SourcedStatement } from './effective.ts';
import type { UnreadablePolicy } from './grants.ts';
import { normalizeStatements } from './statements.ts';

export type GuardrailLevels = NonNullable<PrincipalPolicies['guardrails']>;

export interface GuardrailReading {
  /** The levels to evaluate; absent when no SCP applies or the SCPs are not known. */
  levels?: GuardrailLevels;
  /** SCPs (or the whole listing) that cannot be read: they reach every principal they cap. */
  unreadable: UnreadablePolicy[];
  /** Each level and its SCPs, for a finding's details. */
  described: Array<{ level: string; policies: string[] }>;
}

/** How a finding names a level: `root r-ab12`, `OU ou-ab12-cd34ef56`, `account 222222222222`. */
export function levelName(level: Pick<GuardrailLevel, 'kind' | 'target'>): string {
  return `${level.kind === 'ou' ? 'OU' : level.kind} ${level.target}`;
}

const NONE: GuardrailReading = { unreadable: [], described: [] };
const cache = new WeakMap<object, GuardrailReading>();

/**
 * The guardrails of an inventory, read once per inventory. Absent: not organization mode, no SCP
 * is evaluated. Unknown levels, an unreadable document or a level with no SCP (Organizations keeps
 * one on every entity while SCPs are enabled: the listing is incomplete) are unreadable, so the
 * principals they cap are ERROR, never evaluated as if uncapped.
 */
export function readGuardrails(inventory: Pick<Inventory, 'organization'>): GuardrailReading {
  const source = inventory.organization?.guardrails;
  if (!source) return NONE;
  let reading = cache.get(source);
  if (reading) return reading;
  if (source.state !== 'read') {
    const code = source.code ? ` (${source.code})` : '';
    reading = {
      unreadable: [
        {
          what: `the service control policies of the account (${source.call} failed${code})`,
          via: 'guardrail',
          path: 'service control policies',
          reason: source.reason,
        },
      ],
      described: [],
    };
  } else {
    const unreadable: UnreadablePolicy[] = [];
    const levels: GuardrailLevels = [];
    for (const level of source.data) {
      const name = levelName(level);
      const statements: SourcedStatement[] = [];
      if (level.policies.length === 0) {
        unreadable.push({
          what: `the service control policies of ${name}`,
          via: 'guardrail',
          path: `service control policies at ${name}`,
          reason: `no SCP is listed at ${name}, though every entity holds one while SCPs are enabled`,
        });
      }
      for (const policy of level.policies) {
        const path = `service control policy ${policy.name} at ${name}`;
        const read = policy.document.ok
          ? normalizeStatements(policy.document.document, 'scp')
          : { ok: false as const, error: policy.document.error };
        if (!read.ok) {
          unreadable.push({
            what: `service control policy ${policy.name} (${policy.id}) at ${name}`,
            policy: policy.name,
            policyArn: policy.arn,
            via: 'guardrail',
            path,
            reason: read.error,
          });
          continue;
        }
        const origin = { policy: policy.name, policyArn: policy.arn, via: 'guardrail', path };
        for (const statement of read.statements) statements.push({ origin, statement });
      }
      levels.push({ name, statements });
    }
    reading = {
      ...(levels.length > 0 ? { levels } : {}),
      unreadable,
      described: source.data.map((level) => ({ level: levelName(level), policies: level.policies.map((p) => `${p.name} (${p.id})`) })),
    };
  }
  cache.set(source, reading);
  return reading;
}

function list(values: string[], max = 3): string {
  return values.length <= max ? values.join(', ') : `${values.slice(0, max).join(', ')} and ${values.length - max} more`;
}

/** The SCPs of one effect, by name and level: `service control policy DenyIam at OU ou-ab12-cd34ef56`. */
export function effectNames(effect: GuardrailEffect): string[] {
  return [...new Set([...effect.denies, ...effect.allows].map((s) => s.origin.path))];
}

/** Every SCP the effects name; `service control policies` when none is singled out. */
export function scpNames(effects: GuardrailEffect[]): string {
  const names = [...new Set(effects.flatMap(effectNames))];
  return names.length > 0 ? list(names) : 'service control policies';
}

/** What one level's SCPs do to the grants: what they remove, or (an allow list) the little they keep. */
export function describeEffect(effect: GuardrailEffect): string {
  const names = effectNames(effect);
  const s = names.length === 1 ? 's' : '';
  const keeps = effect.kept.actions > 0 && effect.kept.actions < effect.removed.actions;
  return keeps
    ? `${list(names)} allow${s} only ${describeSummary(effect.kept)} of it`
    : `${list(names)} remove${s} ${describeSummary(effect.removed)}`;
}
