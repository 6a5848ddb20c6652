import type * as z from 'zod';
import type { FieldIssue } from './errors.js';

/**
 * Zod issues as field issues that name the field by its JSON path (`alerts.workHours.start: must be ...`): the one
 * wording used by the relay's 400 answers and by the device-side client's local checks.
 */
export function toFieldIssues(issues: readonly z.core.$ZodIssue[]): FieldIssue[] {
  return issues.map((issue) => {
    const path = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') return { path, message: `unknown field(s): ${issue.keys.join(', ')}` };
    if (issue.code === 'invalid_type' && issue.input === undefined) return { path, message: 'is required' };
    return { path, message: issue.message };
  });
}
