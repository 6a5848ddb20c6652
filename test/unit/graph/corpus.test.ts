import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readGraphSubscriptionResponse } from '../../../shared/client/graph-subscriptions.js';
import {
  GraphMalformedError,
  isNewMessageNotification,
  lifecycleActionOf,
  messageKeyOf,
  parseChangeNotifications,
  parseGraphSubscription,
  parseLifecycleNotifications,
  validationTokenOf,
  type GraphChangeNotification,
  type LifecycleAction,
} from '../../../shared/graph/index.js';

/**
 * Every file of the Graph corpus (test/corpus/graph, published samples; SOURCES.md marks the malformed ones) through
 * every reader of the Graph module: what parses, what it means, and that the rest is refused with the typed error.
 */
const CORPUS_DIR = new URL('../../corpus/graph/', import.meta.url);
const corpusFileNames = () => readdirSync(CORPUS_DIR).filter((name) => name !== 'SOURCES.md').sort();
const corpusBytes = (name: string) => new Uint8Array(readFileSync(new URL(name, CORPUS_DIR)));
const markedMalformed = readFileSync(new URL('SOURCES.md', CORPUS_DIR), 'utf8')
  .split('\n')
  .filter((line) => /^\|\s*[\w.-]+\s*\|.*\*malformed/.test(line))
  .map((line) => line.split('|')[1]!.trim());

const MALFORMED = Symbol('malformed');
type Expected<T> = T | typeof MALFORMED;

// One row per corpus file; a new file fails the coverage test until it has one.
const changeNotifications: Record<string, Expected<GraphChangeNotification[]>> = {
  'graph-change-notification-message-created-basic.json': [
    {
      subscriptionId: '{subscription_guid}',
      changeType: 'created',
      resource: 'users/{user_guid}@{tenant_guid}/messages/{long_id_string}',
      clientState: 'secretClientValue',
      resourceData: { '@odata.type': '#Microsoft.Graph.Message', id: '{long_id_string}' },
    },
  ],
  'graph-lifecycle-missed.json': MALFORMED,
  'graph-lifecycle-reauthorizationrequired-lifecycleevent-first.json': MALFORMED,
  'graph-lifecycle-structure-template-placeholder-event.json': MALFORMED,
  'graph-lifecycle-subscriptionremoved.json': MALFORMED,
  'graph-outlook-notification-without-resource-data-bare-value-fragment-malformed.json': MALFORMED,
  'graph-outlook-rich-notification-decrypted-message-payload.json': MALFORMED,
  'graph-outlook-rich-notification-encryptedcontent-missing-comma-malformed.json': MALFORMED,
  'graph-outlook-subscription-create-response-201.http': MALFORMED,
  'graph-rich-notification-chatmessage-js-comment-malformed.json': MALFORMED,
  'graph-rich-notification-two-tenants-validationtokens-ellipsis-malformed.json': MALFORMED,
  'graph-subscription-create-request-with-lifecycle-url.http': MALFORMED,
  'graph-validation-request.http': MALFORMED,
};

// The lifecycle event as sent, and the action the relay takes for it (undefined: an event it does not know).
const lifecycleNotifications: Record<string, Expected<Array<{ subscriptionId: string; lifecycleEvent: string; clientState?: string; action?: LifecycleAction }>>> = {
  'graph-change-notification-message-created-basic.json': MALFORMED,
  'graph-lifecycle-missed.json': [{ subscriptionId: '<subscription_guid>', lifecycleEvent: 'missed', clientState: '<secretClientState>', action: 'sync' }],
  'graph-lifecycle-reauthorizationrequired-lifecycleevent-first.json': [
    { subscriptionId: 'e3898f08-5cd0-4a6a-80fc-6addbfb73b7b', lifecycleEvent: 'reauthorizationRequired', clientState: '{secret client state}', action: 'reauthorize' },
  ],
  // The documentation's template: well-formed, but its lifecycleEvent is placeholder text, so nothing is done.
  'graph-lifecycle-structure-template-placeholder-event.json': [
    { subscriptionId: '<subscription_guid>', lifecycleEvent: 'subscriptionRemoved or missed or reauthorizationRequired', clientState: '<secretClientState>' },
  ],
  'graph-lifecycle-subscriptionremoved.json': [
    { subscriptionId: '<subscription_guid>', lifecycleEvent: 'subscriptionRemoved', clientState: '<secretClientState>', action: 'resubscribe' },
  ],
  'graph-outlook-notification-without-resource-data-bare-value-fragment-malformed.json': MALFORMED,
  'graph-outlook-rich-notification-decrypted-message-payload.json': MALFORMED,
  'graph-outlook-rich-notification-encryptedcontent-missing-comma-malformed.json': MALFORMED,
  'graph-outlook-subscription-create-response-201.http': MALFORMED,
  'graph-rich-notification-chatmessage-js-comment-malformed.json': MALFORMED,
  'graph-rich-notification-two-tenants-validationtokens-ellipsis-malformed.json': MALFORMED,
  'graph-subscription-create-request-with-lifecycle-url.http': MALFORMED,
  'graph-validation-request.http': MALFORMED,
};

function outcome<T>(read: () => T): Expected<T> {
  try {
    return read();
  } catch (error) {
    expect(error).toBeInstanceOf(GraphMalformedError);
    return MALFORMED;
  }
}

/** An .http sample: the status or request line and headers, a blank line, the body. */
function httpParts(name: string): { head: string; body: string } {
  const text = new TextDecoder().decode(corpusBytes(name)).replaceAll('\r\n', '\n');
  const split = text.indexOf('\n\n');
  return split === -1 ? { head: text, body: '' } : { head: text.slice(0, split), body: text.slice(split + 2) };
}

describe('the Graph corpus', () => {
  it('has a row for every file, and every file SOURCES.md marks malformed is refused by every reader', () => {
    expect(Object.keys(changeNotifications).sort()).toEqual(corpusFileNames());
    expect(Object.keys(lifecycleNotifications).sort()).toEqual(corpusFileNames());
    expect(markedMalformed.length).toBeGreaterThanOrEqual(4);
    for (const name of markedMalformed) {
      expect(changeNotifications[name]).toBe(MALFORMED);
      expect(lifecycleNotifications[name]).toBe(MALFORMED);
    }
  });

  it.each(corpusFileNames())('reads %s as a change notification collection as expected', (name) => {
    const result = outcome(() => parseChangeNotifications(corpusBytes(name)));
    const expected = changeNotifications[name]!;
    if (expected === MALFORMED) expect(result).toBe(MALFORMED);
    else expect(result).toEqual({ items: expected, skipped: 0 });
  });

  it.each(corpusFileNames())('reads %s as a lifecycle collection as expected', (name) => {
    const result = outcome(() => parseLifecycleNotifications(corpusBytes(name)));
    const expected = lifecycleNotifications[name]!;
    if (expected === MALFORMED) return expect(result).toBe(MALFORMED);
    if (result === MALFORMED) throw new Error(`${name} was refused`);
    expect(result.skipped).toBe(0);
    expect(result.items.map((item) => ({ ...item, action: lifecycleActionOf(item.lifecycleEvent) }))).toEqual(
      expected.map((item) => ({ action: undefined, ...item })),
    );
  });

  it('finds one new mail, keyed by its message id, in the basic created-message notification', () => {
    const { items } = parseChangeNotifications(corpusBytes('graph-change-notification-message-created-basic.json'));
    expect(items.filter(isNewMessageNotification).map(messageKeyOf)).toEqual(['{long_id_string}']);
  });

  it("reads Graph's documented 201 answer into a subscription report", () => {
    const { head, body } = httpParts('graph-outlook-subscription-create-response-201.http');
    expect(head).toMatch(/^HTTP\/1\.1 201 Created/);
    expect(parseGraphSubscription(body)).toMatchObject({ id: '5522bd62-7c96-4530-85b0-00b916f6151a', expirationDateTime: '2022-01-01T21:42:18.2257768Z' });
    expect(readGraphSubscriptionResponse({ status: 201, body })).toEqual({
      ok: true,
      subscriptionId: '5522bd62-7c96-4530-85b0-00b916f6151a',
      expiresAt: Date.parse('2022-01-01T21:42:18.225Z'),
      report: { protocol: 'graph', subscriptionId: '5522bd62-7c96-4530-85b0-00b916f6151a', expiresAt: '2022-01-01T21:42:18.225Z' },
    });
  });

  it('takes the token of the documented validation request', () => {
    const { head } = httpParts('graph-validation-request.http');
    const url = /^POST (\S+)$/m.exec(head)![1]!;
    expect(validationTokenOf(url.slice(url.indexOf('?') + 1))).toBe('{opaqueTokenCreatedByMicrosoftGraph}');
  });
});
