import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RelayError } from '../../../shared/errors.js';
import {
  apnsPayloadSchema,
  intervalPush,
  mailboxActionPush,
  newMailPush,
  PushPayloadTooLargeError,
  resubscribePush,
  serializePayload,
} from '../../../shared/push/apns-payloads.js';
import { APNS_MAX_PAYLOAD_BYTES } from '../../../shared/push/push-gateway.js';

const utf8Bytes = (text: string) => new TextEncoder().encode(text).byteLength;

describe('newMailPush', () => {
  it('builds an alert push with priority 10, the default text and nothing but the mailbox id and the count', () => {
    const message = newMailPush({ mailboxId: 'inbox-1', newMessages: 3 });

    // toStrictEqual: no expiration, collapse id, sound, badge or any other key may appear.
    expect(message).toStrictEqual({
      kind: 'alert',
      priority: 10,
      payload: {
        aps: { alert: 'You have new messages', 'mutable-content': 1, 'thread-id': 'inbox-1' },
        mailbox: 'inbox-1',
        newMessages: 3,
      },
    });
  });

  it('leaves the count out of the everyday alert for one new item', () => {
    expect(newMailPush({ mailboxId: 'inbox-1', newMessages: 1 }).payload).toStrictEqual({
      aps: { alert: 'You have new messages', 'mutable-content': 1, 'thread-id': 'inbox-1' },
      mailbox: 'inbox-1',
    });
  });

  it('uses the given alert text', () => {
    const message = newMailPush({ mailboxId: 'inbox-1', newMessages: 1, alertText: '2 new messages' });

    expect(message.payload).toMatchObject({ aps: { alert: '2 new messages' } });
  });

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('refuses %s new messages', (newMessages) => {
    expect(() => newMailPush({ mailboxId: 'inbox-1', newMessages })).toThrow(RangeError);
  });

  it.each(['', 'has space', 'a/b', 'x'.repeat(65)])('refuses the mailbox id %j', (mailboxId) => {
    expect(() => newMailPush({ mailboxId, newMessages: 1 })).toThrow(RangeError);
  });

  it('refuses an empty alert text', () => {
    expect(() => newMailPush({ mailboxId: 'inbox-1', newMessages: 1, alertText: '' })).toThrow(RangeError);
  });
});

describe('intervalPush', () => {
  it('builds a background push with priority 5 and only content-available', () => {
    expect(intervalPush()).toStrictEqual({ kind: 'background', priority: 5, payload: { aps: { 'content-available': 1 } } });
  });
});

describe('mailboxActionPush', () => {
  it.each(['resubscribe', 'reauthorize', 'sync'] as const)('asks in the background for %s, naming the mailbox', (action) => {
    expect(mailboxActionPush(action, 'me')).toStrictEqual({
      kind: 'background',
      priority: 5,
      payload: { aps: { 'content-available': 1 }, action, mailbox: 'me' },
    });
    expect(serializePayload(mailboxActionPush(action, 'm1'))).toBe(`{"aps":{"content-available":1},"action":"${action}","mailbox":"m1"}`);
  });

  it('refuses an invalid mailbox id', () => {
    expect(() => mailboxActionPush('sync', 'not valid')).toThrow(RangeError);
  });
});

describe('resubscribePush', () => {
  it('builds a background push with priority 5 naming the action and the mailbox', () => {
    expect(resubscribePush('shared.sales')).toStrictEqual({
      kind: 'background',
      priority: 5,
      payload: { aps: { 'content-available': 1 }, action: 'resubscribe', mailbox: 'shared.sales' },
    });
  });

  it('refuses an invalid mailbox id', () => {
    expect(() => resubscribePush('not valid')).toThrow(RangeError);
  });
});

describe('serializePayload', () => {
  it('sends exactly the payload as JSON', () => {
    expect(serializePayload(intervalPush())).toBe('{"aps":{"content-available":1}}');
    expect(serializePayload(resubscribePush('m1'))).toBe('{"aps":{"content-available":1},"action":"resubscribe","mailbox":"m1"}');
  });

  /** The alert text that makes a new-mail payload exactly `bytes` long, in ASCII. */
  function alertTextForPayloadOf(bytes: number): string {
    const overhead = utf8Bytes(serializePayload(newMailPush({ mailboxId: 'inbox-1', newMessages: 1, alertText: 'x' }))) - 1;
    return 'x'.repeat(bytes - overhead);
  }

  it('accepts a payload of exactly APNS_MAX_PAYLOAD_BYTES', () => {
    const message = newMailPush({ mailboxId: 'inbox-1', newMessages: 1, alertText: alertTextForPayloadOf(APNS_MAX_PAYLOAD_BYTES) });

    expect(utf8Bytes(serializePayload(message))).toBe(APNS_MAX_PAYLOAD_BYTES);
  });

  it('refuses a payload one byte larger with a typed error that carries sizes only', () => {
    const alertText = alertTextForPayloadOf(APNS_MAX_PAYLOAD_BYTES + 1);
    const message = newMailPush({ mailboxId: 'inbox-1', newMessages: 1, alertText });

    const error = (() => {
      try {
        serializePayload(message);
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();

    expect(error).toBeInstanceOf(PushPayloadTooLargeError);
    expect(error).toBeInstanceOf(RelayError);
    expect(error).toMatchObject({
      name: 'PushPayloadTooLargeError',
      code: 'push_payload_too_large',
      bytes: APNS_MAX_PAYLOAD_BYTES + 1,
      limit: APNS_MAX_PAYLOAD_BYTES,
    });
    expect((error as Error).message).not.toContain('xxxx');
  });

  it('counts UTF-8 bytes, not characters', () => {
    // 1,400 euro signs are 1,400 UTF-16 units but 4,200 UTF-8 bytes.
    const message = newMailPush({ mailboxId: 'inbox-1', newMessages: 1, alertText: '€'.repeat(1400) });

    expect(JSON.stringify(message.payload).length).toBeLessThan(APNS_MAX_PAYLOAD_BYTES);
    expect(() => serializePayload(message)).toThrow(PushPayloadTooLargeError);
  });
});

describe('apnsPayloadSchema', () => {
  it('decodes each pushed payload, after the JSON round trip, as what it is', () => {
    const decode = (payload: unknown) => apnsPayloadSchema.parse(JSON.parse(JSON.stringify(payload)));

    const newMail = newMailPush({ mailboxId: 'inbox-1', newMessages: 2 }).payload;
    const interval = intervalPush().payload;
    const resubscribe = resubscribePush('inbox-1').payload;

    expect(decode(newMail)).toEqual({ type: 'new-mail', payload: newMail });
    expect(decode(interval)).toEqual({ type: 'interval', payload: interval });
    expect(decode(resubscribe)).toEqual({ type: 'resubscribe', payload: resubscribe });
    for (const action of ['reauthorize', 'sync'] as const) {
      const payload = mailboxActionPush(action, 'inbox-1').payload;
      expect(decode(payload)).toEqual({ type: action, payload });
    }
  });

  it('decodes every new-mail push the builder can make', () => {
    const mailboxId = fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/).filter((id) => id !== '.' && id !== '..');
    fc.assert(
      fc.property(mailboxId, fc.integer({ min: 1, max: 1_000_000 }), fc.string({ minLength: 1, maxLength: 200 }), (id, count, text) => {
        const message = newMailPush({ mailboxId: id, newMessages: count, alertText: text });

        const decoded = apnsPayloadSchema.parse(JSON.parse(serializePayload(message)));

        expect(decoded).toEqual({ type: 'new-mail', payload: message.payload });
      }),
      { seed: 6, numRuns: 200 },
    );
  });

  const newMail = { aps: { alert: 'You have new messages', 'mutable-content': 1, 'thread-id': 'm1' }, mailbox: 'm1', newMessages: 1 };
  const interval = { aps: { 'content-available': 1 } };
  const resubscribe = { aps: { 'content-available': 1 }, action: 'resubscribe', mailbox: 'm1' };

  it.each([
    ['null', null],
    ['a string', 'You have new messages'],
    ['an empty object', {}],
    ['an empty aps', { aps: {} }],
    ['content-available 0', { aps: { 'content-available': 0 } }],
    ['an interval push with a mailbox', { ...interval, mailbox: 'm1' }],
    ['an interval push with an extra aps key', { aps: { 'content-available': 1, sound: 'default' } }],
    ['an unknown action', { ...resubscribe, action: 'wipe' }],
    ['a resubscribe without mailbox', { aps: { 'content-available': 1 }, action: 'resubscribe' }],
    ['a resubscribe with an invalid mailbox id', { ...resubscribe, mailbox: '../etc' }],
    ['a sync with an extra key', { ...resubscribe, action: 'sync', since: '2026-01-01' }],
    ['a reauthorize without content-available', { aps: {}, action: 'reauthorize', mailbox: 'm1' }],
    ['a new-mail push without alert', { ...newMail, aps: { 'mutable-content': 1, 'thread-id': 'm1' } }],
    ['a new-mail push with mutable-content 0', { ...newMail, aps: { ...newMail.aps, 'mutable-content': 0 } }],
    ['a new-mail push without mailbox', { aps: newMail.aps, newMessages: 1 }],
    ['a new-mail push with zero new messages', { ...newMail, newMessages: 0 }],
    ['a new-mail push with a fractional count', { ...newMail, newMessages: 1.5 }],
    ['a new-mail push with a count as text', { ...newMail, newMessages: '1' }],
    ['a new-mail push carrying a subject', { ...newMail, subject: 'Quarterly numbers' }],
    ['a new-mail push with a badge', { ...newMail, aps: { ...newMail.aps, badge: 4 } }],
  ])('refuses %s', (_label, junk) => {
    expect(apnsPayloadSchema.safeParse(junk).success).toBe(false);
  });
});
