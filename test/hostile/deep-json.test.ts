import { describe, expect, it } from 'vitest';
import { parseJsonBody, type HttpEvent } from '../../functions/_lib/http.js';
import { httpAnswerFor } from '../../functions/_lib/http-errors.js';
import { patchDeviceRequestSchema, registerDeviceRequestSchema } from '../../shared/device/device-schemas.js';

/**
 * Deeply nested JSON fits easily in the 64 KiB a device API body may have; it must be refused as a bad request, not
 * overflow the stack of the recursive checks behind the parser (which answered 500).
 */
const event = (body: string) => ({ headers: { 'content-type': 'application/json' }, body, isBase64Encoded: false }) as unknown as HttpEvent;
const answerFor = (read: () => unknown) => {
  try {
    read();
    return undefined;
  } catch (error) {
    return httpAnswerFor(error);
  }
};

describe('deeply nested JSON', () => {
  const objects = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

  it.each([
    ['10,000 nested objects in a field', () => parseJsonBody(event(`{"pushToken":${objects(10_000)}}`), registerDeviceRequestSchema)],
    ['30,000 nested arrays', () => parseJsonBody(event(`${'['.repeat(30_000)}${']'.repeat(30_000)}`), registerDeviceRequestSchema)],
    ['10,000 nested objects in a merge patch', () => parseJsonBody(event(`{"alerts":${objects(10_000)}}`), patchDeviceRequestSchema)],
  ])('answers 400 to %s', (_, read) => {
    expect(answerFor(read)).toMatchObject({ statusCode: 400, code: 'invalid_request', internal: false });
  });

  it('still reads a body nested as deep as a real request', () => {
    const body = { alerts: { workHoursOnly: true, workHours: { start: '09:00', end: '18:00', days: [1, 2, 3] } } };
    expect(parseJsonBody(event(JSON.stringify(body)), patchDeviceRequestSchema)).toEqual(body);
  });
});
