import { describe, expect, it } from 'vitest';
import { GraphValidationTokenError, MAX_VALIDATION_TOKEN_LENGTH, validationTokenOf } from '../../../shared/graph/index.js';

describe('validationTokenOf', () => {
  it.each([
    ['validationToken=abc', 'abc'],
    ['validationToken=Validation%3a+Testing+client+application+reachability+for+subscription+Request-Id%3a+a1b2', 'Validation: Testing client application reachability for subscription Request-Id: a1b2'],
    ['validationToken=%3Cscript%3Ealert(1)%3C%2Fscript%3E', '<script>alert(1)</script>'],
    ['other=1&validationToken=a%2Bb', 'a+b'],
    ['validationToken=first&validationToken=second', 'first'],
    ['validationToken=%C3%A9t%C3%A9', 'été'],
  ])('decodes %s as a form value', (query, token) => {
    expect(validationTokenOf(query)).toBe(token);
  });

  it.each([[undefined], [''], ['other=1'], ['validationtoken=abc'], ['token=validationToken']])('finds no token in %s', (query) => {
    expect(validationTokenOf(query)).toBeUndefined();
  });

  it('echoes a token of exactly the longest length, in characters', () => {
    expect(validationTokenOf(`validationToken=${'%C3%A9'.repeat(MAX_VALIDATION_TOKEN_LENGTH)}`)).toHaveLength(MAX_VALIDATION_TOKEN_LENGTH);
  });

  it.each([
    ['a token one character too long', `validationToken=${'a'.repeat(MAX_VALIDATION_TOKEN_LENGTH + 1)}`],
    ['a huge escaped token', `validationToken=${'%41'.repeat(100_000)}`],
    ['a newline', 'validationToken=a%0Ab'],
    ['a NUL', 'validationToken=a%00b'],
    ['a DEL', 'validationToken=a%7Fb'],
    ['a C1 control', 'validationToken=a%C2%85b'],
    ['a broken escape', 'validationToken=a%zz'],
    ['an escape that is not UTF-8', 'validationToken=a%FFb'],
    ['an empty token', 'validationToken='],
    ['no value at all', 'validationToken'],
  ])('refuses %s', (_, query) => {
    expect(() => validationTokenOf(query)).toThrow(GraphValidationTokenError);
  });
});
