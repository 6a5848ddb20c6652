import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import fc from 'fast-check';
import { startLocalService, type LocalService } from '../../infra/local/service.js';
import { deviceViewSchema } from '../../shared/device/device-schemas.js';
import { api, PUSH_TOKEN_A, PUSH_TOKEN_B } from '../support/device-api.js';
import { multiNotificationBody, newMailBody, statusEventBody } from '../support/exchange.js';
import { mapWithConcurrency } from '../faults/harness/fleet.js';
import { emptyRow, type SummaryRow } from '../faults/harness/summary.js';

/**
 * Fuzzers that mutate valid requests and send them over HTTP to the running local service: SendNotification bodies to
 * a real callback URL, JSON to the device API. Cases come from fast-check with a fixed seed (so a failure names a case
 * that reproduces), are generated in chunks and sent a few at a time.
 */

/**
 * How long one answer may take, enforced only by `npm run soak` (which sets HOSTILE_ANSWER_BOUND_MS): `npm test` holds no
 * timing threshold, since on a loaded two-core machine a wall-clock bound fails for the machine, not for a defect. The
 * tests still record the slowest answer in their summary, so a pathological input shows there.
 */
export const ANSWER_BOUND_MS: number | undefined = process.env.HOSTILE_ANSWER_BOUND_MS ? Number(process.env.HOSTILE_ANSWER_BOUND_MS) : undefined;

/** True when an answer took longer than the soak's bound (never under `npm test`). */
export function overAnswerBound(ms: number): boolean {
  return ANSWER_BOUND_MS !== undefined && ms > ANSWER_BOUND_MS;
}

export interface FuzzReport {
  row: SummaryRow;
  cases: number;
  /** Answers by status code. */
  statuses: Record<string, number>;
  /** Cases that broke a rule, with the rule; at most 20 kept. */
  failures: Array<{ index: number; rule: string; status: number; request: string }>;
  failureCount: number;
  slowest: number;
  /** Heap after a full GC, before and after the run, in MB (undefined when GC cannot be forced). */
  heapBeforeMb: number | undefined;
  heapAfterMb: number | undefined;
}

/** A full GC, so heap numbers mean retained memory; undefined where the flag cannot be set. */
export function forceGc(): (() => void) | undefined {
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
}

function heapMb(gc: (() => void) | undefined): number | undefined {
  if (!gc) return undefined;
  gc();
  gc();
  return Math.round((process.memoryUsage().heapUsed / 1024 / 1024) * 10) / 10;
}

// ---------------------------------------------------------------------------------------------------------------
// SendNotification bodies

const CORPUS_DIR = path.resolve(import.meta.dirname, '../corpus/ews');

/** Valid SendNotification bodies: the builders' shapes and the corpus files that are SendNotification requests. */
export function validSendNotificationSeeds(): string[] {
  const corpus = readdirSync(CORPUS_DIR)
    .filter((name) => /sendnotification-/.test(name) && !/result|malformed/.test(name))
    .map((name) => readFileSync(path.join(CORPUS_DIR, name), 'utf8'));
  return [
    newMailBody('sub-fuzz', [{ itemId: 'AAMkFuzz1' }]),
    newMailBody('sub-fuzz', [{ itemId: 'AAMkFuzz2' }, { itemId: 'AAMkFuzz3', watermark: 'AQAAAwm=' }]),
    multiNotificationBody([
      { subscriptionId: 'sub-fuzz', mails: [{ itemId: 'AAMkFuzz4' }] },
      { subscriptionId: 'sub-fuzz', mails: [{ itemId: 'AAMkFuzz5' }] },
    ]),
    statusEventBody('sub-fuzz'),
    ...corpus,
  ];
}

const enc = (text: string) => Buffer.from(text, 'utf8');
/** Fragments that matter to an XML reader: markup, entities, declarations, namespaces, hostile names and bytes. */
const XML_TOKENS: Buffer[] = [
  ...['<', '>', '&', '&amp;', '&lt;', '&#0;', '&#xD800;', '&#x10FFFF;', '&unknown;', '<![CDATA[', ']]>', '<!--', '-->', '<!DOCTYPE x>', '<!ENTITY a "b">',
    '<?xml version="1.0"?>', '<?pi x?>', 'xmlns="urn:x"', 'xmlns:t="urn:x"', 'xmlns:m=""', ' a="1" a="2"', '__proto__', 'constructor', 'prototype',
    '<__proto__/>', '"', "'", '=', '/', '</m:Notification>', '<t:NewMailEvent>', '</t:NewMailEvent>', '<t:ItemId Id="x"/>', '<t:SubscriptionId>other</t:SubscriptionId>',
    '<t:MoreEvents>true</t:MoreEvents>', '\u0000', '\u0008', '\uFFFE', '\uD83D\uDE00', '\r\n', '\t', ' '].map(enc),
  Buffer.from([0xc3, 0x28]),
  Buffer.from([0xff]),
  Buffer.from([0xef, 0xbb, 0xbf]),
  Buffer.from([0xed, 0xa0, 0x80]),
];

type ByteMutation =
  | { kind: 'insert'; at: number; token: number }
  | { kind: 'insert-random'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'duplicate'; at: number; length: number; to: number; times: number }
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'swap'; a: number; b: number; length: number };

const position = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true });
const byteMutation: fc.Arbitrary<ByteMutation> = fc.oneof(
  { weight: 20, arbitrary: fc.record({ kind: fc.constant('insert' as const), at: position, token: fc.nat(XML_TOKENS.length - 1) }) },
  { weight: 10, arbitrary: fc.record({ kind: fc.constant('insert-random' as const), at: position, bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }) },
  { weight: 15, arbitrary: fc.record({ kind: fc.constant('delete' as const), at: position, length: fc.integer({ min: 1, max: 64 }) }) },
  { weight: 10, arbitrary: fc.record({ kind: fc.constant('duplicate' as const), at: position, length: fc.integer({ min: 1, max: 200 }), to: position, times: fc.integer({ min: 1, max: 50 }) }) },
  // Rarely, a body blown past the 256 KiB limit (or just under it) by repeating a slice.
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('duplicate' as const), at: position, length: fc.integer({ min: 100, max: 300 }), to: position, times: fc.integer({ min: 800, max: 2_000 }) }) },
  { weight: 10, arbitrary: fc.record({ kind: fc.constant('flip' as const), at: position, bit: fc.nat(7) }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: position }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('swap' as const), a: position, b: position, length: fc.integer({ min: 1, max: 100 }) }) },
) as fc.Arbitrary<ByteMutation>;

function applyByteMutation(input: Buffer, mutation: ByteMutation): Buffer {
  const at = (fraction: number) => Math.floor(fraction * (input.length + 1));
  switch (mutation.kind) {
    case 'insert':
      return Buffer.concat([input.subarray(0, at(mutation.at)), XML_TOKENS[mutation.token]!, input.subarray(at(mutation.at))]);
    case 'insert-random':
      return Buffer.concat([input.subarray(0, at(mutation.at)), Buffer.from(mutation.bytes), input.subarray(at(mutation.at))]);
    case 'delete':
      return Buffer.concat([input.subarray(0, at(mutation.at)), input.subarray(at(mutation.at) + mutation.length)]);
    case 'duplicate': {
      const start = at(mutation.at);
      const slice = input.subarray(start, start + mutation.length);
      const to = at(mutation.to);
      return Buffer.concat([input.subarray(0, to), ...Array.from({ length: mutation.times }, () => slice), input.subarray(to)]);
    }
    case 'flip': {
      if (input.length === 0) return input;
      const copy = Buffer.from(input);
      const index = Math.min(copy.length - 1, at(mutation.at));
      copy[index] = copy[index]! ^ (1 << mutation.bit);
      return copy;
    }
    case 'truncate':
      return input.subarray(0, at(mutation.at));
    case 'swap': {
      const [first, second] = [at(mutation.a), at(mutation.b)].sort((x, y) => x - y) as [number, number];
      const length = Math.min(mutation.length, second - first);
      if (length <= 0) return input;
      const a = input.subarray(first, first + length);
      const b = input.subarray(second, second + length);
      return Buffer.concat([input.subarray(0, first), b, input.subarray(first + length, second), a, input.subarray(second + b.length)]);
    }
  }
}

export interface CallbackCase {
  body: Buffer;
  contentType: string;
  /** Post to a URL whose secret matches nothing, instead of the real one. */
  unknownSecret: boolean;
}

export function callbackCaseArbitrary(seeds: string[]): fc.Arbitrary<CallbackCase> {
  return fc
    .record({
      seed: fc.nat(seeds.length - 1),
      mutations: fc.array(byteMutation, { minLength: 0, maxLength: 5 }),
      contentType: fc.constantFrom('text/xml; charset=utf-8', 'text/xml; charset=utf-8', 'text/xml; charset=utf-8', 'application/soap+xml', 'application/json', 'text/plain', ''),
      // One case in ten goes to a URL whose secret matches nothing.
      unknownSecret: fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    })
    .map(({ seed, mutations, contentType, unknownSecret }) => ({
      body: mutations.reduce<Buffer>((body, mutation) => applyByteMutation(body, mutation), enc(seeds[seed]!)),
      contentType,
      unknownSecret,
    }));
}

/** Samples `total` cases in chunks (bounded memory), each chunk from its own seed derived from `seed`. */
function* chunkedSamples<T>(arbitrary: fc.Arbitrary<T>, seed: number, total: number, chunk = 500): Generator<T[]> {
  for (let start = 0, n = 0; start < total; start += chunk, n++) {
    yield fc.sample(arbitrary, { seed: seed + n, numRuns: Math.min(chunk, total - start) });
  }
}

interface Checked {
  status: number;
  rule?: string;
}

async function timedFetch(url: string, init: RequestInit): Promise<{ status: number; text: string; contentType: string | null; ms: number } | { error: string; ms: number }> {
  const started = performance.now();
  try {
    const response = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
    const text = await response.text();
    return { status: response.status, text, contentType: response.headers.get('content-type'), ms: performance.now() - started };
  } catch (error) {
    return { error: (error as Error).message, ms: performance.now() - started };
  }
}

/** The device API's and the router's error shape, without a stack trace. */
function errorShapeProblem(text: string): string | undefined {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return 'a 4xx that is not JSON';
  }
  const error = (body as { error?: { code?: unknown; message?: unknown } }).error;
  if (typeof error?.code !== 'string' || typeof error.message !== 'string' || Object.keys(body as object).length !== 1) return 'a 4xx without {"error": {"code", "message"}}';
  if (/\n\s+at |node_modules|\.ts:\d+/.test(text)) return 'a stack trace in an answer';
  return undefined;
}

function newReport(scenario: string): FuzzReport {
  return { row: emptyRow('hostile', scenario), cases: 0, statuses: {}, failures: [], failureCount: 0, slowest: 0, heapBeforeMb: undefined, heapAfterMb: undefined };
}

function record(report: FuzzReport, index: number, checked: Checked, request: () => string): void {
  report.cases++;
  report.statuses[checked.status] = (report.statuses[checked.status] ?? 0) + 1;
  if (!checked.rule) return;
  report.failureCount++;
  if (report.failures.length < 20) report.failures.push({ index, rule: checked.rule, status: checked.status, request: request().slice(0, 400) });
}

export interface CallbackFuzzOptions {
  cases: number;
  seed: number;
  concurrency?: number;
}

/** Mutated SendNotification bodies to a real callback URL: 200 (SOAP), 400 or 413 only (each within the soak's bound when it runs). */
export async function fuzzCallback(options: CallbackFuzzOptions): Promise<FuzzReport> {
  const gc = forceGc();
  const report = newReport(`callback fuzz, seed ${options.seed}`);
  const service = await startLocalService({ port: 0, dataDir: ':memory:', supervisorIntervalMs: 0 });
  try {
    const registered = await api(service.baseUrl, 'POST', '/v1/devices', {
      token: await service.orgToken('org-fuzz'),
      body: { pushToken: PUSH_TOKEN_A, mailboxes: [{ id: 'inbox', kind: 'primary' }] },
    });
    const callbackUrl: string = registered.body.mailboxes[0].callbackUrl;
    const unknownUrl = callbackUrl.replace(/[^/]+$/, 'UnknownSecretUnknownSecretUnknownSecret0000');
    const seeds = validSendNotificationSeeds();
    report.heapBeforeMb = heapMb(gc);
    let index = 0;
    for (const chunk of chunkedSamples(callbackCaseArbitrary(seeds), options.seed, options.cases)) {
      await mapWithConcurrency(chunk, options.concurrency ?? 6, async (fuzzCase) => {
        const caseIndex = index++;
        const answer = await timedFetch(fuzzCase.unknownSecret ? unknownUrl : callbackUrl, {
          method: 'POST',
          headers: fuzzCase.contentType ? { 'content-type': fuzzCase.contentType } : {},
          body: fuzzCase.body,
        });
        report.slowest = Math.max(report.slowest, answer.ms);
        let checked: Checked;
        if ('error' in answer) checked = { status: 0, rule: `no answer: ${answer.error}` };
        else if (overAnswerBound(answer.ms)) checked = { status: answer.status, rule: `answered after ${Math.round(answer.ms)} ms` };
        else if (answer.status === 200) {
          checked = /<(?:\w+:)?SubscriptionStatus>(OK|Unsubscribe)</.test(answer.text) && answer.contentType === 'text/xml; charset=utf-8'
            ? { status: 200 }
            : { status: 200, rule: 'a 200 that is not a SendNotificationResult' };
        } else if (answer.status === 400 || answer.status === 413) {
          const problem = errorShapeProblem(answer.text);
          checked = problem ? { status: answer.status, rule: problem } : { status: answer.status };
        } else checked = { status: answer.status, rule: `status ${answer.status} is not one the contract gives a callback` };
        record(report, caseIndex, checked, () => `${fuzzCase.contentType} ${fuzzCase.unknownSecret ? 'unknown-secret' : 'valid-secret'} ${fuzzCase.body.toString('base64')}`);
      });
      // The sandbox keeps every push it receives; forget them so the heap measures the service, not the recorder.
      service.apnsSandbox?.clear();
    }
    report.heapAfterMb = heapMb(gc);
  } finally {
    await service.stop();
  }
  finish(report);
  return report;
}

// ---------------------------------------------------------------------------------------------------------------
// Device API JSON

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

type JsonMutation =
  | { kind: 'replace'; at: number; value: Json }
  | { kind: 'delete'; at: number }
  | { kind: 'add'; at: number; key: string; value: Json }
  | { kind: 'wrap'; at: number };

const hostileKey = fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '', ' ', 'pushToken', 'alerts', 'mailboxes', 'status', 'deviceId', '\u0000');
const jsonMutation: fc.Arbitrary<JsonMutation> = fc.oneof(
  fc.record({ kind: fc.constant('replace' as const), at: position, value: fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json> }),
  fc.record({ kind: fc.constant('delete' as const), at: position }),
  fc.record({ kind: fc.constant('add' as const), at: position, key: fc.oneof(hostileKey, fc.string({ maxLength: 12 })), value: fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json> }),
  fc.record({ kind: fc.constant('wrap' as const), at: position }),
) as fc.Arbitrary<JsonMutation>;

/** Every container and leaf of a JSON value, as paths. */
function nodes(value: Json, path: Array<string | number> = []): Array<Array<string | number>> {
  const here = [path];
  if (Array.isArray(value)) return [...here, ...value.flatMap((item, index) => nodes(item, [...path, index]))];
  if (value !== null && typeof value === 'object') return [...here, ...Object.keys(value).flatMap((key) => nodes(value[key]!, [...path, key]))];
  return here;
}

function applyJsonMutation(root: Json, mutation: JsonMutation): Json {
  const all = nodes(root);
  const target = all[Math.floor(mutation.at * all.length)] ?? [];
  const rebuild = (value: Json, path: Array<string | number>, change: (node: Json) => Json | undefined): Json | undefined => {
    if (path.length === 0) return change(value);
    const [head, ...rest] = path;
    if (Array.isArray(value)) {
      const copy = [...value];
      const next = rebuild(copy[head as number]!, rest, change);
      if (next === undefined) copy.splice(head as number, 1);
      else copy[head as number] = next;
      return copy;
    }
    if (value !== null && typeof value === 'object') {
      const copy: Record<string, Json> = {};
      for (const [key, child] of Object.entries(value)) {
        if (key !== head) copy[key] = child;
        else {
          const next = rebuild(child, rest, change);
          if (next !== undefined) copy[key] = next;
        }
      }
      return copy;
    }
    return value;
  };
  const changed = rebuild(root, target, (node) => {
    switch (mutation.kind) {
      case 'replace':
        return mutation.value;
      case 'delete':
        return undefined;
      case 'wrap':
        return [node];
      case 'add':
        if (node !== null && typeof node === 'object' && !Array.isArray(node)) {
          // Define the key as own data (a plain assignment of "__proto__" would set the prototype instead).
          const copy: Record<string, Json> = { ...node };
          Object.defineProperty(copy, mutation.key, { value: mutation.value, enumerable: true, configurable: true, writable: true });
          return copy;
        }
        return node;
    }
  });
  return changed === undefined ? null : changed;
}

export type DeviceApiOperation = 'register' | 'patch' | 'add-mailbox' | 'remove-mailbox' | 'subscription' | 'get' | 'events' | 'random-route';

export interface DeviceApiCase {
  operation: DeviceApiOperation;
  body: Buffer | undefined;
  contentType: string | undefined;
  auth: 'right' | 'other-device' | 'org-token' | 'none' | 'garbage' | 'truncated';
  mailboxId: string;
  method: string;
  pathSuffix: string;
}

const VALID_BODIES: Record<string, Json> = {
  register: {
    pushToken: PUSH_TOKEN_B,
    apnsEnvironment: 'sandbox',
    mode: 'interval',
    intervalSeconds: 600,
    timeZone: 'Europe/Berlin',
    alerts: { workHoursOnly: true, workHours: { start: '09:00', end: '18:00', days: [1, 2, 3, 4, 5] }, weekendAlerts: false, vipAfterHours: false, showDetails: false },
    mailboxes: [{ id: 'inbox', kind: 'primary' }, { id: 'shared.team-1', kind: 'delegated' }],
  },
  patch: { timeZone: 'America/New_York', alerts: { workHoursOnly: false, workHours: { days: [1, 7] } }, mode: 'realtime' },
  'add-mailbox': { id: 'shared-x', kind: 'delegated' },
  subscription: { subscriptionId: 'AAMkSubscription==', expiresAt: '2030-01-01T00:00:00Z' },
};

export function deviceApiCaseArbitrary(): fc.Arbitrary<DeviceApiCase> {
  return fc
    .record({
      operation: fc.constantFrom<DeviceApiOperation>('register', 'register', 'patch', 'patch', 'patch', 'add-mailbox', 'remove-mailbox', 'subscription', 'subscription', 'get', 'events', 'random-route'),
      jsonMutations: fc.array(jsonMutation, { maxLength: 4 }),
      byteMutations: fc.oneof({ weight: 4, arbitrary: fc.constant([] as ByteMutation[]) }, { weight: 1, arbitrary: fc.array(byteMutation, { minLength: 1, maxLength: 3 }) }),
      contentType: fc.constantFrom<string | undefined>('application/json', 'application/json', 'application/json; charset=utf-8', 'application/merge-patch+json', 'text/plain', undefined),
      auth: fc.constantFrom<DeviceApiCase['auth']>('right', 'right', 'right', 'right', 'other-device', 'org-token', 'none', 'garbage', 'truncated'),
      mailboxId: fc.oneof(fc.constantFrom('inbox', 'shared.team-1', 'shared-x', '..', '.', '%2e%2e', 'a'.repeat(65)), fc.stringMatching(/^[A-Za-z0-9._%-]{0,70}$/)),
      method: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'),
      pathSuffix: fc.constantFrom('', '/', '/mailboxes', '/events', '/x', '/mailboxes/inbox/subscription/x', '?x=1', '/../other', '/%00'),
    })
    .map(({ operation, jsonMutations, byteMutations, contentType, auth, mailboxId, method, pathSuffix }) => {
      const valid = VALID_BODIES[operation];
      let body: Buffer | undefined;
      if (valid !== undefined || operation === 'random-route') {
        const json = jsonMutations.reduce<Json>((value, mutation) => applyJsonMutation(value, mutation), valid ?? {});
        body = byteMutations.reduce<Buffer>((bytes, mutation) => applyByteMutation(bytes, mutation), Buffer.from(JSON.stringify(json)));
      }
      return { operation, body, contentType, auth, mailboxId, method, pathSuffix };
    });
}

const DEVICE_API_STATUSES = new Set([200, 201, 204, 400, 401, 403, 404, 405, 409, 413, 415]);

export interface DeviceApiFuzzOptions {
  cases: number;
  seed: number;
  concurrency?: number;
}

/** Mutated JSON and routes to the device API: only the contract's statuses, the error shape, no stack traces. */
export async function fuzzDeviceApi(options: DeviceApiFuzzOptions): Promise<FuzzReport & { deviceStillValid: boolean; prototypeClean: boolean }> {
  const gc = forceGc();
  const report = newReport(`device API fuzz, seed ${options.seed}`);
  const service: LocalService = await startLocalService({ port: 0, dataDir: ':memory:', supervisorIntervalMs: 0 });
  let deviceStillValid = false;
  try {
    const orgToken = await service.orgToken('org-fuzz');
    const register = async () =>
      (await api(service.baseUrl, 'POST', '/v1/devices', { token: orgToken, body: VALID_BODIES.register })).body as { deviceId: string; deviceSecret: string };
    const target = await register();
    const other = await register();
    const secretFor = (auth: DeviceApiCase['auth']): string | undefined =>
      ({ right: target.deviceSecret, 'other-device': other.deviceSecret, 'org-token': orgToken, none: undefined, garbage: 'not-a-secret', truncated: target.deviceSecret.slice(0, -1) })[auth];
    report.heapBeforeMb = heapMb(gc);
    let index = 0;
    for (const chunk of chunkedSamples(deviceApiCaseArbitrary(), options.seed, options.cases)) {
      await mapWithConcurrency(chunk, options.concurrency ?? 6, async (fuzzCase) => {
        const caseIndex = index++;
        const devicePath = `/v1/devices/${target.deviceId}`;
        const mailbox = encodeURIComponent(fuzzCase.mailboxId).replace(/%25/g, '%');
        const [method, url, token] = ((): [string, string, string | undefined] => {
          switch (fuzzCase.operation) {
            case 'register':
              return ['POST', '/v1/devices', fuzzCase.auth === 'right' ? orgToken : secretFor(fuzzCase.auth)];
            case 'patch':
              return ['PATCH', devicePath, secretFor(fuzzCase.auth)];
            case 'add-mailbox':
              return ['POST', `${devicePath}/mailboxes`, secretFor(fuzzCase.auth)];
            case 'remove-mailbox':
              return ['DELETE', `${devicePath}/mailboxes/${mailbox}`, secretFor(fuzzCase.auth)];
            case 'subscription':
              return ['PUT', `${devicePath}/mailboxes/${mailbox}/subscription`, secretFor(fuzzCase.auth)];
            case 'get':
              return ['GET', devicePath, secretFor(fuzzCase.auth)];
            case 'events':
              return ['GET', `${devicePath}/events`, secretFor(fuzzCase.auth)];
            case 'random-route':
              // Never DELETE the target device itself (with or without a query or a trailing slash): later cases need it.
              return [fuzzCase.method === 'DELETE' ? 'OPTIONS' : fuzzCase.method, `${devicePath}${fuzzCase.pathSuffix}`, secretFor(fuzzCase.auth)];
          }
        })();
        const headers: Record<string, string> = {};
        if (token !== undefined) headers.authorization = `Bearer ${token}`;
        if (fuzzCase.contentType !== undefined) headers['content-type'] = fuzzCase.contentType;
        const withBody = fuzzCase.body !== undefined && method !== 'GET' && method !== 'HEAD';
        const answer = await timedFetch(`${service.baseUrl}${url}`, { method, headers, ...(withBody ? { body: fuzzCase.body } : {}) });
        report.slowest = Math.max(report.slowest, answer.ms);
        let checked: Checked;
        if ('error' in answer) checked = { status: 0, rule: `no answer: ${answer.error}` };
        else if (overAnswerBound(answer.ms)) checked = { status: answer.status, rule: `answered after ${Math.round(answer.ms)} ms` };
        else if (!DEVICE_API_STATUSES.has(answer.status)) checked = { status: answer.status, rule: `status ${answer.status} is not in the contract` };
        else if (answer.status >= 400 && method !== 'HEAD') {
          const problem = errorShapeProblem(answer.text);
          checked = problem ? { status: answer.status, rule: problem } : { status: answer.status };
        } else checked = { status: answer.status };
        record(report, caseIndex, checked, () => `${method} ${url} auth=${fuzzCase.auth} ${fuzzCase.contentType ?? ''} ${fuzzCase.body?.toString('base64') ?? ''}`);
      });
    }
    report.heapAfterMb = heapMb(gc);
    const read = await api(service.baseUrl, 'GET', `/v1/devices/${target.deviceId}`, { token: target.deviceSecret });
    deviceStillValid = read.status === 200 && deviceViewSchema.safeParse(read.body).success;
    if (!deviceStillValid) report.failures.push({ index: -1, rule: 'the fuzzed device is no longer readable and valid', status: read.status, request: JSON.stringify(read.body).slice(0, 400) });
  } finally {
    await service.stop();
  }
  finish(report);
  const prototypeClean = ({} as Record<string, unknown>).polluted === undefined && !Object.getOwnPropertyNames(Object.prototype).some((name) => /polluted|^[0-9]+$/.test(name));
  return { ...report, deviceStillValid, prototypeClean };
}

function finish(report: FuzzReport): void {
  report.row.injected = report.cases;
  report.row.sent = report.cases;
  report.row.crashes = report.failureCount;
  const statuses = Object.entries(report.statuses).map(([status, count]) => `${status}: ${count}`).join(', ');
  report.row.note = `answers ${statuses}; slowest ${Math.round(report.slowest)} ms (bound ${ANSWER_BOUND_MS === undefined ? 'none outside the soak' : `${ANSWER_BOUND_MS} ms`}); heap after GC ${report.heapBeforeMb ?? '?'} -> ${report.heapAfterMb ?? '?'} MB`;
}
