import { beforeAll, describe, expect, it } from 'vitest';
import { coldStarts, type ColdStart } from '../../bench/bundles.bench.js';

/**
 * Issue 15's budget, held: every function is bundled as the stack deploys it (code splitting,
 * infra/constructs/function-bundle.ts) and imported once in a fresh `node`, which reports the files a cold start loads.
 * What they weigh must stay within 150 KiB minified, and what is imported on first use only (organization mode, the
 * relay's own subscriptions, the JWT verifier of the device API's registrations, the push gateway a deployment does
 * not use) must stay out of them: a static import of any of it puts it back into every cold start and fails here.
 * `npm run bench -- --only bundles` measures the sizes with the times.
 */
const BUDGET_BYTES = 150 * 1024;
const NAMES = ['device-api', 'dispatcher', 'exchange-callback', 'org-api', 'platform-application', 'sns-feedback', 'supervisor'];

const ORG_ADAPTERS = [
  'functions/_lib/adapters/message-details-readers.ts',
  'functions/_lib/adapters/subscription-managers.ts',
  'functions/_lib/adapters/kms-org-keyring.ts',
  'functions/_lib/adapters/dynamodb-managed-subscriptions.ts',
  'shared/ews/safe-xml.ts',
];
const LAZY: Record<string, string[]> = {
  'device-api': [
    ...ORG_ADAPTERS,
    'functions/_lib/org-token.ts',
    'functions/_lib/org-secrets.ts',
    'functions/_lib/hand-back-mailbox.ts',
    'functions/_lib/adapters/sqs-event-queue.ts',
    'functions/device-api/relay-subscription.ts',
  ],
  dispatcher: [...ORG_ADAPTERS, 'functions/_lib/apns-runtime.ts', 'functions/dispatcher/managed-wiring.ts', 'functions/_lib/aws/secrets-manager.ts'],
  // The queue-seal key (issue 15) is read in the background from the cold start, its Secrets Manager client imported
  // dynamically: not among the cold start's static imports.
  'exchange-callback': ['functions/_lib/aws/secrets-manager.ts'],
  'org-api': [...ORG_ADAPTERS, 'functions/_lib/adapters/sqs-event-queue.ts', 'functions/org-api/clear-org-devices.ts', 'functions/org-api/switch-mail-server.ts'],
  supervisor: ['functions/_lib/apns-runtime.ts'],
};

describe('what a cold start loads (issue 15)', () => {
  let loaded: Map<string, ColdStart>;
  beforeAll(async () => {
    loaded = new Map((await coldStarts(NAMES)).map((cold) => [cold.name, cold]));
  }, 120_000);

  it.each(NAMES)('%s: at most 150 KiB minified', (name) => {
    const { bytes } = loaded.get(name)!;
    expect(bytes, `${name} loads ${bytes} bytes at cold start (${(bytes / 1024).toFixed(1)} KiB)`).toBeLessThanOrEqual(BUDGET_BYTES);
  });

  it.each(Object.keys(LAZY))('%s: what only some requests need is loaded by the first of them', (name) => {
    const { inputs, bundled } = loaded.get(name)!;
    // Each is bundled (so the check below is not of a module the function no longer has at all)...
    expect(LAZY[name]!.filter((module) => !bundled.has(module))).toEqual([]);
    // ...and none of it is loaded by a cold start.
    expect(LAZY[name]!.filter((module) => inputs.has(module))).toEqual([]);
    expect([...inputs].filter((input) => input.startsWith('node_modules/jose/')).length > 0).toBe(name === 'org-api');
  });

  it('counts what initialization imports on its own: the SNS gateway the dispatcher and supervisor build at cold start', () => {
    for (const name of ['dispatcher', 'supervisor']) expect(loaded.get(name)!.inputs.has('functions/_lib/adapters/sns-push-gateway.ts'), name).toBe(true);
    // The callback reads EWS on its hot path: the XML reader is part of its cold start.
    expect(loaded.get('exchange-callback')!.inputs.has('shared/ews/safe-xml.ts')).toBe(true);
  });
});
