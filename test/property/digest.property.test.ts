/**
 * Property-based test of the organization digest (lib/notify/digest.ts): whatever the accounts,
 * their states and how much each has to say (long, non-ASCII text included), the message stays
 * under SNS's 256 KB (body, subject and attributes, in UTF-8), every account is either shown or
 * counted ("and N more accounts", or quiet), the accounts in ERROR come first, and every shown
 * list says how many it left out.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildDigest, inError, type AccountSection } from '#lib/notify/digest.ts';
import { SNS_MAX_BYTES } from '#lib/notify/alert.ts';
import { LIST_KEYS } from '#lib/notify/format.ts';
import { section, snsBytes } from '#test/digest.ts';
import { runs } from '#test/property.ts';

const text = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 400 }), fc.constant('é'.repeat(500)));

const accountSection: fc.Arbitrary<AccountSection> = fc
  .record({
    n: fc.integer({ min: 0, max: 999_999 }),
    state: fc.constantFrom('complete', 'complete', 'incomplete', 'failed' as const),
    items: fc.record({
      new: fc.nat({ max: 120 }),
      regressed: fc.nat({ max: 10 }),
      stillOpen: fc.nat({ max: 10 }),
      resolved: fc.nat({ max: 40 }),
    }),
    severity: fc.constantFrom('critical', 'high', 'medium', 'low', 'informational' as const),
    title: text,
    reason: text,
    name: text,
  })
  .map(({ n, state, items, severity, title, reason, name }) => {
    const s = section(String(100_000_000_000 + n), { state, items: state === 'failed' ? {} : items, severity, title, reason });
    return { ...s, account: { ...s.account, name } };
  });

describe('buildDigest', () => {
  it('any organization run fits one SNS message, and every account is shown or counted', () => {
    fc.assert(
      fc.property(
        // Few accounts, or enough (with their findings) to need cutting.
        fc.oneof(fc.array(accountSection, { maxLength: 20 }), fc.array(accountSection, { minLength: 150, maxLength: 300 })),
        (drawn) => {
          // One section per account, as the table holds them.
          const sections = [...new Map(drawn.map((s) => [s.account.id, s])).values()];
          const digest = buildDigest({ organizationRunId: 'org-1', startedAt: '2026-11-02T03:00:00.000Z', sections });
          expect(snsBytes(digest)).toBeLessThanOrEqual(SNS_MAX_BYTES);
          expect(digest.subject.length).toBeLessThan(100);
          expect(digest.subject).not.toMatch(/[\r\n]/);
          const { summary } = digest;
          expect(summary.accounts.length + summary.omitted.accounts + summary.counts.quiet).toBe(sections.length);
          expect(summary.counts.inError).toBe(sections.filter(inError).length);
          // In ERROR first: no account in ERROR after one that is not.
          const firstQuiet = summary.accounts.findIndex((s) => !inError(s));
          if (firstQuiet >= 0) expect(summary.accounts.slice(firstQuiet).some(inError)).toBe(false);
          // An account in ERROR is left out only when every account shown is in ERROR.
          if (summary.omitted.accountsInError > 0) expect(summary.accounts.every(inError)).toBe(true);
          let shownFindings = 0;
          for (const s of summary.accounts) {
            for (const key of LIST_KEYS) {
              expect(s.changes[key].length + s.omitted[key]).toBe(s.totals[key]);
              shownFindings += s.changes[key].length;
            }
          }
          const total = sections.reduce((n, s) => n + LIST_KEYS.reduce((m, k) => m + s.totals[k], 0), 0);
          expect(shownFindings + summary.omitted.findings).toBe(total);
          const message = JSON.parse(digest.message) as { default: string; email: string };
          expect(JSON.parse(message.default)).toEqual(summary);
        },
      ),
      { numRuns: runs(40) },
    );
  }, 120_000);
});
