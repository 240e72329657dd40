/**
 * lib/policy/statements.ts on its own: what normalizeStatements reads, and what it refuses.
 */
import { describe, expect, it } from 'vitest';
import { normalizeStatements } from '#lib/policy/statements.ts';

const one = (statement: Record<string, unknown>) => ({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }, statement],
});

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

describe('normalizeStatements: a Condition whose operators name no keys', () => {
  // IAM's documentation gives no rule for an operator with no keys (`{"StringEquals": {}}`); it is
  // read on the reporting side: for an Allow no condition (a grant), for a Deny a condition (it
  // may not apply, so it removes nothing).
  const read = (statement: Record<string, unknown>) => {
    const result = normalizeStatements({ Version: '2012-10-17', Statement: statement }, 'identity');
    if (!result.ok) throw new Error(result.error);
    return result.statements[0]!;
  };
  const base = { Action: '*', Resource: '*' };

  it('is no condition on an Allow', () => {
    expect(read({ Effect: 'Allow', ...base, Condition: { StringEquals: {} } }).condition).toBeNull();
    expect(read({ Effect: 'Allow', ...base, Condition: { StringEquals: {}, Bool: {} } }).condition).toBeNull();
  });

  it('is a condition on a Deny', () => {
    expect(read({ Effect: 'Deny', ...base, Condition: { StringEquals: {} } }).condition).toEqual({ StringEquals: {} });
  });

  it('beside an operator that names a key, is part of a real condition on either effect', () => {
    const condition = { StringEquals: {}, Bool: { 'aws:MultiFactorAuthPresent': 'true' } };
    expect(read({ Effect: 'Allow', ...base, Condition: condition }).condition).toEqual(condition);
    expect(read({ Effect: 'Deny', ...base, Condition: condition }).condition).toEqual(condition);
  });

  it('an empty Condition object is no condition on either effect', () => {
    expect(read({ Effect: 'Allow', ...base, Condition: {} }).condition).toBeNull();
    expect(read({ Effect: 'Deny', ...base, Condition: {} }).condition).toBeNull();
  });
});
