import * as z from 'zod';
import { describe, expect, it } from 'vitest';
import { toFieldIssues } from '../../shared/validation.js';

describe('toFieldIssues', () => {
  const schema = z.strictObject({
    intervalSeconds: z.number().int(),
    alerts: z.strictObject({ workHoursOnly: z.boolean(), workHours: z.strictObject({ start: z.string(), days: z.array(z.number()) }) }),
  });
  const issuesOf = (input: unknown) => {
    const result = schema.safeParse(input);
    if (result.success) throw new Error('expected a failure');
    return toFieldIssues(result.error.issues, input);
  };

  it('says "is required" only for what is missing, and what was expected for a value of the wrong type', () => {
    expect(issuesOf({ intervalSeconds: 300.5, alerts: { workHoursOnly: 'true', workHours: { days: 'mon' } } })).toEqual([
      { path: 'intervalSeconds', message: 'must be an integer' },
      { path: 'alerts.workHoursOnly', message: 'must be true or false' },
      { path: 'alerts.workHours.start', message: 'is required' },
      { path: 'alerts.workHours.days', message: 'must be an array' },
    ]);
    expect(issuesOf({ intervalSeconds: '300', alerts: null })).toEqual([
      { path: 'intervalSeconds', message: 'must be a number' },
      { path: 'alerts', message: 'must be an object' },
    ]);
  });

  it('names unknown fields and keeps the schema\'s own message for other problems', () => {
    const ranged = z.strictObject({ intervalSeconds: z.number().min(300, 'must be at least 300') });
    const input = { intervalSeconds: 299, extra: 1 };
    const result = ranged.safeParse(input);
    expect(result.success).toBe(false);
    expect(toFieldIssues(result.error!.issues, input)).toEqual([
      { path: 'intervalSeconds', message: 'must be at least 300' },
      { path: '', message: 'unknown field(s): extra' },
    ]);
  });
});
