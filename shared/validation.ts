import type * as z from './zod.js';
import type { FieldIssue } from './errors.js';

/**
 * Zod issues as field issues that name the field by its JSON path (`alerts.workHours.start: must be ...`): the one
 * wording used by the relay's 400 answers and by the device-side client's local checks.
 */
export function toFieldIssues(issues: readonly z.core.$ZodIssue[], input: unknown): FieldIssue[] {
  return issues.map((issue) => {
    const path = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') return { path, message: `unknown field(s): ${issue.keys.join(', ')}` };
    if (issue.code === 'invalid_type') {
      // Zod leaves the input out of its issues (so that they never carry a pushToken into a log); look it up here.
      if (valueAt(input, issue.path) === undefined) return { path, message: 'is required' };
      return { path, message: `must be ${EXPECTED_PHRASES[issue.expected] ?? `of type ${issue.expected}`}` };
    }
    return { path, message: issue.message };
  });
}

const EXPECTED_PHRASES: Readonly<Record<string, string>> = {
  int: 'an integer',
  number: 'a number',
  string: 'a string',
  boolean: 'true or false',
  array: 'an array',
  object: 'an object',
};

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

export type JsonParseResult<T> =
  | { success: true; data: T }
  /** `notJson`: the text is not JSON at all; otherwise `issues` counts what the schema refused (never the values). */
  | { success: false; notJson: true }
  | { success: false; notJson: false; issues: number };

/**
 * Parses `text` as JSON, then with `schema`: the one reading of a JSON message body at an edge (a queue record, an SNS
 * event), where both failures are the caller's to log and drop.
 */
export function parseJsonWith<T>(schema: z.ZodMiniType<T>, text: string): JsonParseResult<T> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { success: false, notJson: true };
  }
  const parsed = schema.safeParse(json);
  return parsed.success ? { success: true, data: parsed.data } : { success: false, notJson: false, issues: parsed.error.issues.length };
}
