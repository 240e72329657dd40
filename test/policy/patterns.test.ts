/**
 * lib/policy/patterns.ts against a brute-force reference: every string over a small alphabet,
 * matched symbol by symbol. `includes` is sound (true only when every string of q matches p);
 * `overlaps` is exact for patterns short enough to compare.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VARIABLE } from '#lib/policy/catalogue.ts';
import { includes, overlaps } from '#lib/policy/patterns.ts';

const LETTERS = ['a', 'b', ':'];

/** Every string over LETTERS up to `max` characters. */
function strings(max: number): string[] {
  const out = [''];
  let layer = [''];
  for (let n = 1; n <= max; n++) {
    layer = layer.flatMap((s) => LETTERS.map((c) => s + c));
    out.push(...layer);
  }
  return out;
}

/** Reference matching: `*` any run, `?` one character, VARIABLE any run without `:`, else itself. */
function matches(pattern: string, value: string): boolean {
  const memo = new Map<string, boolean>();
  const go = (i: number, j: number): boolean => {
    const key = `${i},${j}`;
    const hit = memo.get(key);
    if (hit !== undefined) return hit;
    let ok: boolean;
    if (i === pattern.length) ok = j === value.length;
    else {
      const c = pattern[i]!;
      if (c === '*') ok = go(i + 1, j) || (j < value.length && go(i, j + 1));
      else if (c === VARIABLE) ok = go(i + 1, j) || (j < value.length && value[j] !== ':' && go(i, j + 1));
      else ok = j < value.length && (c === '?' || c === value[j]) && go(i + 1, j + 1);
    }
    memo.set(key, ok);
    return ok;
  };
  return go(0, 0);
}

// A common witness needs at most one character per non-star symbol of the two patterns, so strings
// up to |p| + |q| decide overlap exactly; for inclusion they are a bounded search for a counterexample.
const ALL = strings(6);
const pattern = fc.string({ unit: fc.constantFrom('a', ':', '*', '?'), maxLength: 3 });
const template = fc.string({ unit: fc.constantFrom('a', ':', '*', '?', VARIABLE), maxLength: 3 });

describe('includes', () => {
  it('is sound: when it says p includes q, every string q matches is matched by p', () => {
    fc.assert(
      fc.property(pattern, template, (p, q) => {
        if (!includes(p, q)) return;
        for (const s of ALL)
          if (matches(q, s)) expect(matches(p, s), `${JSON.stringify(p)} ⊇ ${JSON.stringify(q)} at ${JSON.stringify(s)}`).toBe(true);
      }),
      { numRuns: 1_000 },
    );
  });

  it('knows the inclusions effective access relies on', () => {
    const userTemplate = `arn:aws:iam::123456789012:user/${VARIABLE}`;
    expect(includes('*', userTemplate)).toBe(true);
    expect(includes('arn:*', userTemplate)).toBe(true);
    expect(includes('arn:aws:*:*:*:*', userTemplate)).toBe(true);
    expect(includes('arn:aws:iam::123456789012:user/*', userTemplate)).toBe(true);
    expect(includes('arn:aws:iam::*:user/*', userTemplate)).toBe(true);
    // One user is not every user; another partition is not this one.
    expect(includes('arn:aws:iam::123456789012:user/alice', userTemplate)).toBe(false);
    expect(includes('arn:aws-cn:*', userTemplate)).toBe(false);
    // `?` stands for one character, never for a variable of any length.
    expect(includes('arn:aws:iam::123456789012:user/?', userTemplate)).toBe(false);
    // Every pattern includes itself.
    for (const p of ['arn:aws:s3:::b/*', 'a?b*', '*', '']) expect(includes(p, p)).toBe(true);
  });

  it('takes at most |p| × |q| steps on hostile text', () => {
    const started = Date.now();
    expect(includes(`${'*'.repeat(2_000)}x`, 'a'.repeat(2_000))).toBe(false);
    expect(includes(`${'*a'.repeat(1_000)}b`, `${'a'.repeat(2_000)}c`)).toBe(false);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});

describe('overlaps', () => {
  it('is exact on short patterns: true exactly when some string matches both', () => {
    fc.assert(
      fc.property(pattern, template, (p, q) => {
        const witness = ALL.find((s) => matches(p, s) && matches(q, s));
        expect(overlaps(p, q), `${JSON.stringify(p)} ∩ ${JSON.stringify(q)}: witness ${JSON.stringify(witness)}`).toBe(
          witness !== undefined,
        );
      }),
      { numRuns: 1_000 },
    );
  });

  it('a template variable holds no ":", so it never reaches into the next ARN field', () => {
    const userTemplate = `arn:aws:iam::123456789012:user/${VARIABLE}`;
    expect(overlaps('arn:aws:iam::123456789012:user/alice', userTemplate)).toBe(true);
    expect(overlaps('arn:aws:iam::123456789012:user/a:b', userTemplate)).toBe(false);
    expect(overlaps('arn:aws:s3:::*', userTemplate)).toBe(false);
    expect(overlaps('arn:aws-cn:*', userTemplate)).toBe(false);
  });

  it('says "overlaps" (the conservative answer) when the patterns are too long to compare', () => {
    expect(overlaps('a'.repeat(3_000), 'b'.repeat(3_000))).toBe(true);
    expect(overlaps('a'.repeat(300), 'b'.repeat(300))).toBe(false);
  });
});
