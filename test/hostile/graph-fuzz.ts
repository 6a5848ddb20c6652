import { hashSecret } from '../../functions/_lib/device-secrets.js';
import { dispatchQueueRecords } from '../../functions/dispatcher/edge.js';
import { createExchangeCallbackHandler } from '../../functions/exchange-callback/edge.js';
import type { EventQueue } from '../../shared/queue/queue-messages.js';
import { InMemoryEventQueue } from '../../shared/store/in-memory-event-queue.js';
import { createInMemoryStores } from '../../shared/store/in-memory-stores.js';
import { inMemoryDispatcherDeps } from '../support/dispatcher-deps.js';
import { RecordingCounter, RecordingLogger, RecordingPushGateway } from '../support/fakes.js';
import { graphCaller, lifecycleItem, messageItem, type GraphRoute } from '../support/graph.js';
import { makeDevice } from '../support/store-fixtures.js';
import { emptyRow, type SummaryRow } from '../faults/harness/summary.js';

/**
 * A seeded fuzzer of Graph bodies (contract section 7) against the callback function's real handler and use cases,
 * in process (in-memory stores and queue, so 10,000 cases take seconds), then the real dispatcher over what was queued.
 * Each case is a notification or lifecycle POST built from valid items, then mutated as JSON (fields dropped, retyped,
 * oversized, hostile keys, deep nesting, huge arrays) or as bytes (flips, cuts, invalid UTF-8), with the mailbox's real
 * clientState or a forged one (near misses: one character off, cut, extended, case-changed, empty, huge).
 *
 * Holds when: every answer is 200 (validation only), 202, 400, 404 or 413, never a 5xx or a throw; no case whose items
 * all carry a forged clientState queues anything or changes the mailbox; and every push the dispatcher then sends is
 * for a message that a case sent with the real clientState.
 */

export interface GraphFuzzReport {
  row: SummaryRow;
  cases: number;
  statuses: Record<string, number>;
  /** Cases with only forged clientStates, and how many of them queued something (must be 0). */
  forgedCases: number;
  forgedQueued: number;
  /** Alert pushes the dispatcher sent, and those for a message no genuine item named (must be 0). */
  pushes: number;
  pushesFromForged: number;
  failures: Array<{ index: number; rule: string; status: number; sample: string }>;
}

const URL_SECRET = 'fuzz-url-secret-0000000000000000000000000001';
const CLIENT_STATE = 'fuzz-client-state-000000000000000000000000001';
const SUBSCRIPTION = 'fuzz-graph-subscription';

/** mulberry32: small, fast, seeded. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

interface Case {
  route: GraphRoute;
  secret: string;
  body: Uint8Array;
  query: string;
  /** The message ids of items that carry the real clientState exactly (only these may ever push). */
  genuineIds: string[];
  /** True when no item carries the real clientState: nothing may be queued. */
  forgedOnly: boolean;
}

function generator(random: () => number) {
  const int = (max: number) => Math.floor(random() * max);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  const chance = (p: number) => random() < p;

  const forgedState = (): string =>
    pick([
      () => `${CLIENT_STATE.slice(0, -1)}${pick(['0', '2', 'x', 'é'])}`,
      () => CLIENT_STATE.slice(0, int(CLIENT_STATE.length)),
      () => `${CLIENT_STATE}${pick(['', ' ', '\u0000', 'x'.repeat(int(2000))])}` || `${CLIENT_STATE}x`,
      () => CLIENT_STATE.toUpperCase(),
      () => '',
      () => ` ${CLIENT_STATE}`,
      () => 'secretClientValue',
      () => '\u{1F600}'.repeat(int(100)),
    ])();

  const hostileValue = (): unknown =>
    pick([null, 0, -1, 1e308, true, [], {}, '', 'x'.repeat(int(5000)), '\u0000', '\ud800', { __proto__: { polluted: true } }, [[[[[]]]]], 'created', '#Microsoft.Graph.Message']);

  function item(lifecycle: boolean, genuine: boolean, id: string): Record<string, unknown> {
    const clientState = genuine ? CLIENT_STATE : forgedState();
    const base = lifecycle
      ? lifecycleItem({ subscriptionId: chance(0.85) ? SUBSCRIPTION : `other-${int(3)}`, clientState, lifecycleEvent: pick(['missed', 'reauthorizationRequired', 'subscriptionRemoved', 'somethingElse', 'MISSED']) })
      : messageItem({ subscriptionId: chance(0.85) ? SUBSCRIPTION : `other-${int(3)}`, clientState, messageId: id, changeType: pick(['created', 'created', 'created', 'updated', 'deleted', 'Created', 'missed']) });
    if (!lifecycle && chance(0.15)) base.resource = pick([`me/messages('${id}')`, `users/u/Events/${id}`, 'me/messages', `Users/u/Messages/${id}/attachments/a`, '']);
    if (!lifecycle && chance(0.1)) delete base.resourceData;
    if (!lifecycle && chance(0.05)) base.resourceData = hostileValue();
    // JSON-level mutations: drop, retype, add hostile keys.
    const mutations = chance(0.5) ? int(4) : 0;
    for (let m = 0; m < mutations; m++) {
      const keys = Object.keys(base);
      const key = pick(keys);
      switch (int(4)) {
        case 0:
          delete base[key];
          break;
        case 1:
          if (key !== 'clientState') base[key] = hostileValue();
          break;
        case 2:
          base[pick(['__proto__', 'constructor', 'prototype', 'value', 'encryptedContent', 'validationTokens'])] = hostileValue();
          break;
        default:
          base[key] = typeof base[key] === 'string' ? `${base[key] as string}${pick(['', '\u202e', '\n', '"', '\\'])}` : base[key];
      }
    }
    return base;
  }

  return (index: number): Case => {
    const route: GraphRoute = chance(0.75) ? 'POST /v1/graph/notifications/{secret}' : 'POST /v1/graph/lifecycle/{secret}';
    const lifecycle = route === 'POST /v1/graph/lifecycle/{secret}';
    const secret = chance(0.95) ? URL_SECRET : pick(['', 'unknown', `${URL_SECRET}x`, URL_SECRET.slice(1)]);
    const query = chance(0.05) ? `validationToken=${pick(['abc', '%00', 'a+b%2Bc', '%zz', 'x'.repeat(int(3000)), '%E2%80%AE'])}` : '';
    // Mostly forged: the point is that they never push.
    const count = chance(0.02) ? 500 + int(1200) : 1 + int(5);
    const genuineIds: string[] = [];
    let forgedOnly = true;
    const value = Array.from({ length: count }, (_, n) => {
      const genuine = chance(0.2);
      const id = `AAMk${index}-${n}-${int(3)}`;
      const built = item(lifecycle, genuine, id);
      if (built.clientState === CLIENT_STATE) {
        forgedOnly = false;
        genuineIds.push(id);
      }
      return built;
    });
    let text = pick([
      () => JSON.stringify({ value }),
      () => JSON.stringify({ value, validationTokens: ['eyJ0eXAiOiJKV1Qi...'] }),
      () => JSON.stringify({ value: value[0] }),
      () => JSON.stringify(value),
      () => `{"value":${'['.repeat(1 + int(3000))}${']'.repeat(int(3000))}}`,
      () => JSON.stringify({ value: [...value, ...Array.from({ length: int(20) }, hostileValue)] }),
    ])();
    let bytes: Uint8Array = new TextEncoder().encode(text);
    if (chance(0.25)) {
      // Byte-level: flips, cuts, insertions, invalid UTF-8.
      const mutated = Buffer.from(bytes);
      const flips = 1 + int(4);
      for (let f = 0; f < flips && mutated.length > 0; f++) mutated[int(mutated.length)] = int(256);
      bytes = chance(0.3) ? mutated.subarray(0, int(mutated.length)) : mutated;
      text = '';
    }
    if (chance(0.01)) bytes = new Uint8Array(262_145 + int(100_000)).fill(0x20);
    return { route, secret, body: bytes, query, genuineIds, forgedOnly };
  };
}

const ALLOWED = new Set([200, 202, 400, 404, 413]);

export async function fuzzGraph(options: { cases: number; seed: number }): Promise<GraphFuzzReport> {
  const random = prng(options.seed);
  const next = generator(random);
  const stores = createInMemoryStores();
  const queue = new InMemoryEventQueue();
  const counter = new RecordingCounter();
  const logger = new RecordingLogger();
  // Counts what is queued without copying the queue's contents after every case.
  let queued = 0;
  const countingQueue: EventQueue = {
    enqueue: async (messages, options) => {
      await queue.enqueue(messages, options);
      queued += messages.length;
    },
  };
  const call = graphCaller(createExchangeCallbackHandler({ ...stores.ports, decisions: stores.decisions, queue: countingQueue, now: Date.now, logger, counter }));
  const now = Date.now();
  await stores.devices.createDevice(makeDevice({ deviceId: 'fuzz-device' }), [
    { deviceId: 'fuzz-device', mailboxId: 'fuzz', kind: 'primary', callbackKey: hashSecret(URL_SECRET), clientStateHash: hashSecret(CLIENT_STATE), createdAt: now },
  ]);
  await stores.devices.setSubscription('fuzz-device', 'fuzz', { protocol: 'graph', subscriptionId: SUBSCRIPTION, expiresAt: now + 86_400_000, reportedAt: now, dueAt: now + 3_600_000 });
  const mailboxBefore = JSON.stringify((await stores.devices.getDeviceAndMailbox('fuzz-device', 'fuzz')).mailbox);

  const report: GraphFuzzReport = { row: emptyRow('hostile', `Graph fuzz, seed ${options.seed}`), cases: 0, statuses: {}, forgedCases: 0, forgedQueued: 0, pushes: 0, pushesFromForged: 0, failures: [] };
  const genuine = new Set<string>();
  const fail = (index: number, rule: string, status: number, body: Uint8Array) => {
    report.row.crashes++;
    if (report.failures.length < 20) report.failures.push({ index, rule, status, sample: Buffer.from(body.subarray(0, 120)).toString('base64') });
  };

  for (let index = 0; index < options.cases; index++) {
    const testCase = next(index);
    const queuedBefore = queued;
    let status: number;
    try {
      status = (await call(testCase.route, testCase.secret, testCase.body, testCase.query)).status;
    } catch {
      fail(index, 'threw', 0, testCase.body);
      continue;
    }
    report.cases++;
    report.statuses[status] = (report.statuses[status] ?? 0) + 1;
    if (!ALLOWED.has(status) || (status === 200 && !testCase.query)) fail(index, `answered ${status}`, status, testCase.body);
    if (testCase.forgedOnly) {
      report.forgedCases++;
      if (queued > queuedBefore) {
        report.forgedQueued++;
        fail(index, 'a forged body queued something', status, testCase.body);
      }
    } else if (status === 202) {
      for (const id of testCase.genuineIds) genuine.add(id);
    }
  }
  // A forged body may record a decision, nothing else: the mailbox (subscription, times, secrets) is as it was, apart
  // from the last-seen time that genuine items move.
  const mailboxAfter = (await stores.devices.getDeviceAndMailbox('fuzz-device', 'fuzz')).mailbox!;
  const { lastNotificationAt: _seen, dueAt: _due, ...after } = mailboxAfter;
  const { lastNotificationAt: _seenBefore, dueAt: _dueBefore, ...before } = JSON.parse(mailboxBefore) as typeof mailboxAfter;
  if (JSON.stringify(after) !== JSON.stringify(before)) fail(-1, 'the mailbox changed', 0, new Uint8Array());

  // The real dispatcher over everything queued: each alert must stand for genuine mail.
  const push = new RecordingPushGateway();
  const deps = inMemoryDispatcherDeps(stores, {
    push,
    logger,
    counter,
    // No burst limit: every queued notification gets its own alert, so alerts can be counted against genuine mail.
    alertBudget: { windowMs: 1, maxPerWindow: Number.MAX_SAFE_INTEGER },
  });
  const records = queue.messages.map((message, n) => ({ messageId: `m${n}`, body: JSON.stringify(message), receiveCount: 1 }));
  for (let start = 0; start < records.length; start += 10) await dispatchQueueRecords(records.slice(start, start + 10), deps);
  const alerts = push.sent.filter((sent) => sent.message.kind === 'alert');
  report.pushes = push.sent.length;
  // Alerts carry no ids, so the check is by count: never more alerts than distinct genuine created messages.
  report.pushesFromForged = Math.max(0, alerts.length - genuine.size);
  if (report.pushesFromForged > 0) fail(-1, `${report.pushesFromForged} alerts beyond the genuine mail`, 0, new Uint8Array());

  report.row.injected = report.cases;
  report.row.sent = report.cases;
  report.row.pushesExpected = report.pushes;
  report.row.pushesReceived = report.pushes;
  report.row.note = `answers ${Object.entries(report.statuses).map(([s, n]) => `${s}: ${n}`).join(', ')}; forged-only bodies ${report.forgedCases}, of which queued anything ${report.forgedQueued}; pushes ${report.pushes} (alerts ${alerts.length} for ${genuine.size} genuine messages), from forged items ${report.pushesFromForged}`;
  return report;
}
