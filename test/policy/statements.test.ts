/**
 * lib/policy/statements.ts on its own: what normalizeStatements reads, and what it refuses.
 */
import { describe, expect, it } from 'vitest';
import { normalizeStatements } from '#lib/policy/statements.ts';

const one = (statement: Record<string, unknown>) => ({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }, statement] });

describe('normalizeStatements: Action and Resource values are read as written', () => {
  // IAM does not trim these values: " *" is a literal pattern that matches nothing real. Reading it
  // as `*` took a Deny on " *" for a Deny of everything (a false PASS for an administrator).
  it.each([
    ['Action', { Effect: 'Deny', Action: ' *', Resource: '*' }, '" *"'],
    ['NotAction', { Effect: 'Deny', NotAction: ['s3:GetObject', 'iam:* '], Resource: '*' }, '"iam:* "'],
    ['Resource', { Effect: 'Deny', Action: '*', Resource: ' *' }, '" *"'],
    ['NotResource', { Effect: 'Allow', Action: '*', NotResource: ['arn:aws:s3:::b', '\tarn:aws:s3:::c\n'] }, '"\\tarn:aws:s3:::c\\n"'],
  ])('refuses a %s value with surrounding whitespace, naming the statement, the element and the value', (element, statement, shown) => {
    const read = normalizeStatements(one(statement), 'identity');
    expect(read.ok).toBe(false);
    const error = (read as { error: string }).error;
    expect(error).toContain('statement 1');
    expect(error).toContain(`${element} value ${shown}`);
  });

  it('keeps inner text as it is: a value without surrounding whitespace is readable', () => {
    expect(normalizeStatements(one({ Effect: 'Deny', Action: 'iam:Put User*', Resource: 'arn:aws:s3:::a b' }), 'identity').ok).toBe(true);
  });
});
