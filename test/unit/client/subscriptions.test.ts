import { describe, expect, it } from 'vitest';
import {
  buildMailboxSubscribeRequest,
  planRenewal,
  readSubscribeResponse,
  relaySubscriptionTimes,
  type RenewalPlan,
  type SubscriptionState,
} from '../../../shared/client/subscriptions.js';
import { EwsArgumentError, EwsMalformedError } from '../../../shared/ews/ews-errors.js';

const MIN = 60_000;
const T0 = Date.parse('2026-11-23T08:00:00.000Z');
const CALLBACK = 'https://relay.example.com/callback/Zm9vYmFyYmF6cXV4cXV1eA?x=1&y=2';

// Shapes of the Subscribe answers in Microsoft's EWS reference (subscribe-operation.md), abridged.
const ACCEPTED = `<?xml version="1.0" encoding="utf-8" ?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
  <soap:Body>
    <SubscribeResponse xmlns="http://schemas.microsoft.com/exchange/services/2006/messages">
      <ResponseMessages>
        <SubscribeResponseMessage ResponseClass="Success">
          <ResponseCode>NoError</ResponseCode>
          <SubscriptionId>83826921-afdf-48be-b469-628cc02b5f49</SubscriptionId>
          <Watermark>AQAAAOpvG0LURVdOhQkPOWZLPcI8EgAAAAAAAAE=</Watermark>
        </SubscribeResponseMessage>
      </ResponseMessages>
    </SubscribeResponse>
  </soap:Body>
</soap:Envelope>`;

const REFUSED = `<?xml version="1.0" encoding="utf-8" ?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
  <soap:Body>
    <SubscribeResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns="http://schemas.microsoft.com/exchange/services/2006/messages">
      <m:ResponseMessages>
        <m:SubscribeResponseMessage ResponseClass="Error">
          <m:MessageText>Subscriptions are not supported for delegate user access.</m:MessageText>
          <m:ResponseCode>ErrorSubscriptionDelegateAccessNotSupported</m:ResponseCode>
        </m:SubscribeResponseMessage>
      </m:ResponseMessages>
    </SubscribeResponse>
  </soap:Body>
</soap:Envelope>`;

describe('buildMailboxSubscribeRequest', () => {
  it('subscribes the Inbox to NewMailEvent only, with heartbeats every 30 minutes by default, to the callback URL', () => {
    const xml = buildMailboxSubscribeRequest({ callbackUrl: CALLBACK });
    expect(xml).toContain('<m:PushSubscriptionRequest>');
    expect(xml.match(/<t:DistinguishedFolderId [^>]*>/g)).toEqual(['<t:DistinguishedFolderId Id="inbox"/>']);
    expect(xml.match(/<t:EventType>[^<]*<\/t:EventType>/g)).toEqual(['<t:EventType>NewMailEvent</t:EventType>']);
    expect(xml).toContain('<t:StatusFrequency>30</t:StatusFrequency>');
    expect(xml).toContain('<t:URL>https://relay.example.com/callback/Zm9vYmFyYmF6cXV4cXV1eA?x=1&amp;y=2</t:URL>');
    expect(xml).not.toContain('<t:Watermark>');
    expect(xml).not.toContain('ExchangeImpersonation');
  });

  it('carries the given frequency, watermark and impersonated mailbox', () => {
    const xml = buildMailboxSubscribeRequest({
      callbackUrl: CALLBACK,
      statusFrequencyMinutes: 5,
      watermark: 'AQAAAA==',
      impersonateSmtpAddress: 'shared@example.com',
      requestServerVersion: 'Exchange2016',
    });
    expect(xml).toContain('<t:StatusFrequency>5</t:StatusFrequency>');
    expect(xml).toContain('<t:Watermark>AQAAAA==</t:Watermark>');
    expect(xml).toContain('<t:SmtpAddress>shared@example.com</t:SmtpAddress>');
    expect(xml).toContain('Version="Exchange2016"');
  });

  it.each([[0], [1441], [2.5]])('refuses a StatusFrequency of %s minutes', (statusFrequencyMinutes) => {
    expect(() => buildMailboxSubscribeRequest({ callbackUrl: CALLBACK, statusFrequencyMinutes })).toThrow(EwsArgumentError);
  });

  it('refuses a callback URL that is not http(s)', () => {
    expect(() => buildMailboxSubscribeRequest({ callbackUrl: 'javascript:alert(1)' })).toThrow(EwsArgumentError);
  });
});

describe('readSubscribeResponse', () => {
  it('returns the new subscription with its expiry and the report for the relay', () => {
    const result = readSubscribeResponse(ACCEPTED, { now: T0, subscriptionValidMinutes: 1440 });
    expect(result).toEqual({
      ok: true,
      subscriptionId: '83826921-afdf-48be-b469-628cc02b5f49',
      watermark: 'AQAAAOpvG0LURVdOhQkPOWZLPcI8EgAAAAAAAAE=',
      subscribedAt: T0,
      expiresAt: T0 + 1440 * MIN,
      report: { subscriptionId: '83826921-afdf-48be-b469-628cc02b5f49', expiresAt: '2026-11-24T08:00:00.000Z' },
    });
  });

  it('reads the answer from bytes too', () => {
    const result = readSubscribeResponse(new TextEncoder().encode(ACCEPTED), { now: T0, subscriptionValidMinutes: 60 });
    expect(result).toMatchObject({ ok: true, expiresAt: T0 + 60 * MIN });
  });

  it("passes on Exchange's refusal", () => {
    expect(readSubscribeResponse(REFUSED, { now: T0, subscriptionValidMinutes: 1440 })).toEqual({
      ok: false,
      responseCode: 'ErrorSubscriptionDelegateAccessNotSupported',
      messageText: 'Subscriptions are not supported for delegate user access.',
    });
  });

  it('throws a typed error for an answer that is not a SubscribeResponse', () => {
    expect(() => readSubscribeResponse('<html>login</html>', { now: T0, subscriptionValidMinutes: 1440 })).toThrow(EwsMalformedError);
  });
});

describe('planRenewal', () => {
  const policy = { resubscriptionIntervalMinutes: 60, subscriptionValidMinutes: 1440, statusFrequencyMinutes: 30 };
  const plan = (state: Partial<SubscriptionState>, now: number): RenewalPlan => planRenewal({ ...policy, ...state }, now);

  it('resubscribes at once a mailbox without a subscription', () => {
    expect(plan({}, T0)).toEqual({ action: 'resubscribe', reason: 'not-subscribed', at: T0 });
  });

  it('waits for the resubscription interval after subscribing', () => {
    expect(plan({ subscribedAt: T0 }, T0)).toEqual({ action: 'none', reason: 'interval-elapsed', at: T0 + 60 * MIN });
    expect(plan({ subscribedAt: T0 }, T0 + 60 * MIN - 1)).toMatchObject({ action: 'none' });
    expect(plan({ subscribedAt: T0 }, T0 + 60 * MIN)).toEqual({ action: 'resubscribe', reason: 'interval-elapsed', at: T0 + 60 * MIN });
  });

  it('resubscribes after silence of more than 2 x StatusFrequency, counted from the last notification', () => {
    const state = { subscribedAt: T0, statusFrequencyMinutes: 10, lastNotificationAt: T0 + 15 * MIN };
    expect(plan(state, T0 + 35 * MIN)).toEqual({ action: 'none', reason: 'silent', at: T0 + 35 * MIN + 1 });
    expect(plan(state, T0 + 35 * MIN + 1)).toEqual({ action: 'resubscribe', reason: 'silent', at: T0 + 35 * MIN + 1 });
  });

  it('counts silence from subscribing when nothing has arrived yet', () => {
    const state = { subscribedAt: T0, statusFrequencyMinutes: 10 };
    expect(plan(state, T0 + 20 * MIN)).toMatchObject({ action: 'none', reason: 'silent' });
    expect(plan(state, T0 + 20 * MIN + 1)).toMatchObject({ action: 'resubscribe', reason: 'silent' });
  });

  it('ignores a last notification older than the current subscription', () => {
    const state = { subscribedAt: T0, statusFrequencyMinutes: 10, lastNotificationAt: T0 - 50 * MIN };
    expect(plan(state, T0 + 5 * MIN)).toMatchObject({ action: 'none', reason: 'silent', at: T0 + 20 * MIN + 1 });
  });

  it('resubscribes at once when the relay asked after the subscription was made', () => {
    const requested = T0 + 3 * MIN;
    expect(plan({ subscribedAt: T0, resubscribeRequestedAt: requested }, requested)).toEqual({
      action: 'resubscribe',
      reason: 'resubscribe-requested',
      at: requested,
    });
  });

  it('ignores a resubscribe push that the current subscription already answered', () => {
    expect(plan({ subscribedAt: T0, resubscribeRequestedAt: T0 - 1 }, T0 + MIN)).toMatchObject({ action: 'none', reason: 'interval-elapsed' });
  });

  it('renews five minutes before the validity ends when that comes before the interval', () => {
    const state = { subscribedAt: T0, resubscriptionIntervalMinutes: 2000, subscriptionValidMinutes: 120, statusFrequencyMinutes: 60 };
    expect(plan(state, T0)).toEqual({ action: 'none', reason: 'expiring', at: T0 + 115 * MIN });
    expect(plan({ ...state, lastNotificationAt: T0 + 100 * MIN }, T0 + 115 * MIN)).toEqual({ action: 'resubscribe', reason: 'expiring', at: T0 + 115 * MIN });
  });

  it('renews a short-lived subscription a quarter of its lifetime before it ends', () => {
    const state = { subscribedAt: T0, resubscriptionIntervalMinutes: 60, subscriptionValidMinutes: 8, statusFrequencyMinutes: 30 };
    expect(plan(state, T0)).toEqual({ action: 'none', reason: 'expiring', at: T0 + 6 * MIN });
  });

  it('uses the expiry reported to the relay over the configured lifetime', () => {
    expect(plan({ subscribedAt: T0, expiresAt: T0 + 30 * MIN }, T0)).toEqual({ action: 'none', reason: 'expiring', at: T0 + 25 * MIN });
  });

  it('names the most telling reason when several are due', () => {
    const overdue = { subscribedAt: T0, expiresAt: T0 + 10 * MIN, statusFrequencyMinutes: 1 };
    const late = T0 + 500 * MIN;
    expect(plan({ ...overdue, resubscribeRequestedAt: T0 + 400 * MIN }, late).reason).toBe('resubscribe-requested');
    expect(plan(overdue, late).reason).toBe('expiring');
    expect(plan({ ...overdue, expiresAt: T0 + 1000 * MIN }, late).reason).toBe('silent');
    expect(plan({ ...overdue, expiresAt: T0 + 1000 * MIN, lastNotificationAt: late }, late).reason).toBe('interval-elapsed');
  });

  it('follows a day: hourly renewals while Exchange is alive, an early one when it falls silent', () => {
    // Exchange sends a heartbeat every StatusFrequency (15 min) from subscribing until it stops at 13:20.
    const statusFrequencyMinutes = 15;
    const heartbeatsStop = Date.parse('2026-11-23T13:20:00.000Z');
    const lastHeartbeat = (subscribedAt: number, now: number): number | undefined => {
      const until = Math.min(now, heartbeatsStop);
      if (until < subscribedAt + statusFrequencyMinutes * MIN) return undefined;
      return subscribedAt + Math.floor((until - subscribedAt) / (statusFrequencyMinutes * MIN)) * statusFrequencyMinutes * MIN;
    };
    const renewals: string[] = [];
    let subscribedAt: number | undefined;
    let now = T0;
    while (now < Date.parse('2026-11-23T15:00:00.000Z')) {
      const lastNotificationAt = subscribedAt === undefined ? undefined : lastHeartbeat(subscribedAt, now);
      const next = planRenewal(
        { ...policy, statusFrequencyMinutes, ...(subscribedAt === undefined ? {} : { subscribedAt }), ...(lastNotificationAt === undefined ? {} : { lastNotificationAt }) },
        now,
      );
      if (next.action === 'resubscribe') {
        renewals.push(`${new Date(now).toISOString().slice(11, 16)} ${next.reason}`);
        subscribedAt = now;
      } else {
        expect(next.at).toBeGreaterThan(now);
        now = next.at;
      }
    }
    expect(renewals).toEqual([
      '08:00 not-subscribed',
      '09:00 interval-elapsed',
      '10:00 interval-elapsed',
      '11:00 interval-elapsed',
      '12:00 interval-elapsed',
      '13:00 interval-elapsed',
      // Silent since the 13:15 heartbeat (the subscription made at 13:00 got its first at 13:15): more than 30 minutes.
      '13:45 silent',
      // The new subscription hears nothing at all; 30 minutes and a millisecond later it is renewed again.
      '14:15 silent',
      '14:45 silent',
    ]);
  });
});

describe('relaySubscriptionTimes', () => {
  it('turns the relay view into planner times', () => {
    expect(
      relaySubscriptionTimes({
        subscription: { subscriptionId: 's', expiresAt: '2026-11-24T08:00:00.000Z', lastNotificationAt: '2026-11-23T08:30:00.000Z' },
      }),
    ).toEqual({ expiresAt: T0 + 1440 * MIN, lastNotificationAt: T0 + 30 * MIN });
  });

  it('leaves out what the relay does not know', () => {
    expect(relaySubscriptionTimes({ subscription: { subscriptionId: null, expiresAt: null, lastNotificationAt: null } })).toEqual({});
  });
});
