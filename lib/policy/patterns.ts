/**
 * Set relations between IAM wildcard patterns (`*` any run of characters, `?` one character),
 * the second of which may be a catalogue ARN template (with VARIABLE fields that hold no `:`),
 * needed to decide what a statement covers over every resource of a type, not at one sample.
 *
 * - `includes(p, q)`: every string `q` matches is matched by `p` (sound: true only when it holds);
 * - `overlaps(p, q)`: some string matches both (exact, or `true` when the patterns are too long
 *   to compare, which only ever makes a Deny look wider than "nothing" and a grant narrower
 *   than "everything", both on the reporting side).
 */

import { VARIABLE } from './catalogue.ts';
import { starMatch } from './statements.ts';

/**
 * `q`'s symbols a non-`*` symbol of `p` absorbs: `?` any single character, a literal itself. `q`'s
 * `*` and template variables (VARIABLE) stand for runs, and `q`'s `?` for any character: only a
 * `*` of `p` absorbs those (a `?` of `p` absorbs `q`'s `?` too).
 */
const absorbs = (pc: string, qc: string): boolean =>
  pc === '?' ? qc !== '*' && qc !== VARIABLE : pc === qc && qc !== '*' && qc !== '?' && qc !== VARIABLE;

/**
 * Inclusion by matching `p` against `q` read as a string of symbols, with the wildcard matcher
 * (starMatch), so hostile text costs at most |p| × |q| steps.
 */
export function includes(p: string, q: string): boolean {
  return starMatch(p, q, absorbs);
}

const MAX_CELLS = 4_000_000;

/** Whether two patterns share at least one matching string (dynamic programming over both). */
export function overlaps(p: string, q: string): boolean {
  if ((p.length + 1) * (q.length + 1) > MAX_CELLS) return true;
  const width = q.length + 1;
  // reach[i * width + j]: p[i..] and q[j..] share a match.
  const reach = new Uint8Array((p.length + 1) * width);
  for (let i = p.length; i >= 0; i--) {
    for (let j = q.length; j >= 0; j--) {
      let ok: boolean;
      if (i === p.length && j === q.length) ok = true;
      else if (i < p.length && p[i] === '*') ok = reach[(i + 1) * width + j] === 1 || (j < q.length && reach[i * width + j + 1] === 1);
      else if (j < q.length && q[j] === '*') ok = reach[i * width + j + 1] === 1 || (i < p.length && reach[(i + 1) * width + j] === 1);
      else if (j < q.length && q[j] === VARIABLE) {
        // A template variable: any run of characters without `:`.
        ok = reach[i * width + j + 1] === 1 || (i < p.length && p[i] !== ':' && reach[(i + 1) * width + j] === 1);
      } else if (i < p.length && j < q.length) {
        const a = p[i]!;
        const b = q[j]!;
        ok = (a === '?' || b === '?' || a === b) && reach[(i + 1) * width + j + 1] === 1;
      } else ok = false;
      reach[i * width + j] = ok ? 1 : 0;
    }
  }
  return reach[0] === 1;
}
