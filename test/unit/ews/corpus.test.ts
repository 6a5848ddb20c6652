import { describe, expect, it } from 'vitest';
import {
  EwsMalformedError,
  ewsNotificationSchema,
  parseSendNotification,
  parseSendNotificationResult,
  parseSubscribeResponse,
  type EwsNotification,
  type SubscribeResult,
  type SubscriptionStatus,
} from '../../../shared/ews/index.js';
import { corpusBytes, corpusFileNames, sendNotificationBody, thrownBy } from './ews-test-support.js';

/** Refused as not well-formed or not the expected message. */
const MALFORMED = Symbol('malformed');
type Expected<T> = T | typeof MALFORMED;

// One row per corpus file: what each parser makes of it. A new corpus file fails the coverage test until it has a row.
const sendNotifications: Record<string, Expected<EwsNotification[]>> = {
  'exchangelib-sendnotification-statusevent-s-prefix-exchange2016.xml': [
    { subscriptionId: 'XXXXX=', previousWatermark: 'AAAAA=', moreEvents: false, events: [{ type: 'Status', watermark: 'BBBBB=' }] },
  ],
  'workmail-sendnotification-modifiedevent-folder-no-xmldecl.xml': [
    {
      subscriptionId: 'hKJETtoAdi9PPW0tZDQ4MThmMDoVYB',
      previousWatermark: 'ygwAAAAAAAA=',
      moreEvents: false,
      events: [
        {
          type: 'Modified',
          watermark: 'ywwAAAAAAAA=',
          timeStamp: '2018-02-02T15:15:14Z',
          folderId: { id: 'AAB2L089bS1kNDgxOGYwOGE5OTQ0=' },
          parentFolderId: { id: 'AAB2L089bS1kNDgxOGYwOGE=' },
        },
      ],
    },
  ],
  // Published with `version="1.0 (http://www.w3.org/TR/REC-xml/)"`: not well-formed (SOURCES.md: malformed), so 400.
  'workmail-sendnotification-statusevent-invalid-xml-version-decl.xml': MALFORMED,
  'exchangelib-sendnotificationresult-ok-m-prefix.xml': MALFORMED,
  'exchangelib-sendnotificationresult-unsubscribe-m-prefix.xml': MALFORMED,
  'msdocs-getevents-response-default-ns-per-element-mismatched-root-malformed.xml': MALFORMED,
  'msdocs-getevents-response-notification-two-newmailevents.xml': MALFORMED,
  'msdocs-getitem-request-baseshape-default.xml': MALFORMED,
  'msdocs-getitem-response-message-raw-html-body-malformed.xml': MALFORMED,
  'msdocs-getstreamingevents-response-created-newmail-modified-unreadcount-two-roots-malformed.xml': MALFORMED,
  'msdocs-getstreamingevents-response-s-prefix-https-soapns-unclosed-envelope-malformed.xml': MALFORMED,
  'msdocs-subscribe-error-response-delegate-access.xml': MALFORMED,
  'msdocs-subscribe-push-request-default-ns.xml': MALFORMED,
  'msdocs-subscribe-push-response-unprefixed-children.xml': MALFORMED,
  'msdocs-subscribe-response-exchange-online-with-backend-cookie.http': MALFORMED,
  'msdocs-subscribe-streaming-request-with-x-anchormailbox-and-impersonation.http': MALFORMED,
  'workmail-sendnotificationresult-ok-leading-space-before-xmldecl.xml': MALFORMED,
  'workmail-sendnotificationresult-unsubscribe-leading-space-before-xmldecl.xml': MALFORMED,
  'workmail-subscribe-push-request.xml': MALFORMED,
  'workmail-subscribe-push-response-unprefixed-soap-header.xml': MALFORMED,
};

// The WorkMail replies are published with a space before the XML declaration: not well-formed, refused.
const results: Record<string, Expected<SubscriptionStatus>> = {
  'exchangelib-sendnotificationresult-ok-m-prefix.xml': 'OK',
  'exchangelib-sendnotificationresult-unsubscribe-m-prefix.xml': 'Unsubscribe',
  'workmail-sendnotificationresult-ok-leading-space-before-xmldecl.xml': MALFORMED,
  'workmail-sendnotificationresult-unsubscribe-leading-space-before-xmldecl.xml': MALFORMED,
};

const subscribeResponses: Record<string, SubscribeResult> = {
  'msdocs-subscribe-push-response-unprefixed-children.xml': {
    ok: true,
    subscriptionId: '83826921-afdf-48be-b469-628cc02b5f49',
    watermark: 'AQAAAOpvG0LURVdOhQkPOWZLPcI8EgAAAAAAAAE=',
  },
  'workmail-subscribe-push-response-unprefixed-soap-header.xml': {
    ok: true,
    subscriptionId: 'hKJETtoAdi9PPW0tZDQ4MThmMDoVYB',
    watermark: 'AAAAAAA=',
  },
  'msdocs-subscribe-error-response-delegate-access.xml': {
    ok: false,
    responseCode: 'ErrorSubscriptionDelegateAccessNotSupported',
    messageText: 'Subscriptions are not supported for delegate user access.',
  },
};

const corpusFiles = corpusFileNames();
const decoder = new TextDecoder();

describe('EWS sample corpus', () => {
  it('has an expectation for every corpus file', () => {
    expect(Object.keys(sendNotifications).sort()).toEqual(corpusFiles);
  });

  describe('parseSendNotification', () => {
    const accepted = Object.entries(sendNotifications).filter(
      (entry): entry is [string, EwsNotification[]] => entry[1] !== MALFORMED,
    );
    it.each(accepted)('reads the notifications of %s', (name, expected) => {
      const notifications = parseSendNotification(corpusBytes(name));

      expect(notifications).toStrictEqual(expected);
      for (const notification of notifications) expect(ewsNotificationSchema.parse(notification)).toStrictEqual(notification);
    });

    it.each(accepted)('reads %s the same from text as from bytes', (name) => {
      expect(parseSendNotification(decoder.decode(corpusBytes(name)))).toStrictEqual(parseSendNotification(corpusBytes(name)));
    });

    const refused = Object.entries(sendNotifications)
      .filter(([, expected]) => expected === MALFORMED)
      .map(([name]) => name);
    it.each(refused)('refuses %s as malformed', (name) => {
      thrownBy(() => parseSendNotification(corpusBytes(name)), EwsMalformedError);
    });

    it('reads the events of the published streaming sample once its missing Envelope is restored', () => {
      // The published GetStreamingEvents body has Header and Body as two roots; its Notification is the richest
      // real event sequence available (Created, NewMail, folder Modified with UnreadCount, no watermarks).
      const published = decoder.decode(
        corpusBytes('msdocs-getstreamingevents-response-created-newmail-modified-unreadcount-two-roots-malformed.xml'),
      );
      const content = /<m:Notification>([\s\S]*)<\/m:Notification>/.exec(published)?.[1] ?? '';
      const itemId = {
        id: 'AAMkADkzNjJjODUzLWZhMDMtNDVkMS05ZDdjLWVmMDlkYjQ1Zjc4MwBGAAAAAABSSWVKrmGUTJE+MVIvofglBwDZGACZQpSgSpyNkexYe2b7AAAAAAENAADZGACZQpSgSpyNkexYe2b7AAANGFYwAAA=',
        changeKey: 'CQAAAA==',
      };
      const inbox = {
        id: 'AQMkADkzNjJjODUzLWZhMDMtNDVkMS05ZDdjLWVmMDlkYjQ1Zjc4MwAuAAADUkllSq5hlEyRPjFSL6H4JQEA2RgAmUKUoEqcjZHsWHtm+wAAAgENAAAA',
        changeKey: 'AQAAAA==',
      };
      const root = {
        id: 'AQMkADkzNjJjODUzLWZhMDMtNDVkMS05ZDdjLWVmMDlkYjQ1Zjc4MwAuAAADUkllSq5hlEyRPjFSL6H4JQEA2RgAmUKUoEqcjZHsWHtm+wAAAgEJAAAA',
        changeKey: 'AQAAAA==',
      };

      const notifications = parseSendNotification(sendNotificationBody(content));

      expect(notifications).toStrictEqual([
        {
          subscriptionId: 'f6bc657d-dde1-4f94-952d-143b95d6483d',
          moreEvents: false,
          events: [
            { type: 'Created', timeStamp: '2013-09-16T04:31:29Z', itemId, parentFolderId: inbox },
            { type: 'NewMail', timeStamp: '2013-09-16T04:31:29Z', itemId, parentFolderId: inbox },
            { type: 'Modified', timeStamp: '2013-09-16T04:31:29Z', folderId: inbox, parentFolderId: root, unreadCount: 1 },
          ],
        },
      ]);
    });

    it('reads both NewMail events of the published GetEvents sample once it is framed as a push', () => {
      const published = decoder.decode(corpusBytes('msdocs-getevents-response-notification-two-newmailevents.xml'));
      const content = /<m:Notification>([\s\S]*)<\/m:Notification>/.exec(published)?.[1] ?? '';

      const [notification] = parseSendNotification(sendNotificationBody(content));

      expect(notification).toStrictEqual({
        subscriptionId: 'f6bc657d-dde1-4f94-952d-143b95d6483d',
        previousWatermark: 'AAAAAMAGAAAAAAAAAQ==',
        moreEvents: false,
        events: [
          {
            type: 'NewMail',
            watermark: 'AAAAAM4GAAAAAAAAAQ==',
            timeStamp: '2006-08-22T00:36:29Z',
            itemId: { id: 'AQApAHR', changeKey: 'CQAAAA==' },
            parentFolderId: { id: 'AQApAH', changeKey: 'AQAAAA==' },
          },
          {
            type: 'NewMail',
            watermark: 'AAAAAOQGAAAAAAAAAQ==',
            timeStamp: '2006-08-22T01:00:50Z',
            itemId: { id: 'AQApAHRw', changeKey: 'CQAAAA==' },
            parentFolderId: { id: 'AQApAH', changeKey: 'AQAAAA==' },
          },
        ],
      });
    });
  });

  describe('parseSendNotificationResult', () => {
    const read = Object.entries(results).filter((entry): entry is [string, SubscriptionStatus] => entry[1] !== MALFORMED);
    it.each(read)('reads %s as %s', (name, status) => {
      expect(parseSendNotificationResult(corpusBytes(name))).toBe(status);
    });

    const others = corpusFiles.filter((name) => results[name] === undefined || results[name] === MALFORMED);
    it.each(others)('refuses %s as malformed', (name) => {
      thrownBy(() => parseSendNotificationResult(corpusBytes(name)), EwsMalformedError);
    });
  });

  describe('parseSubscribeResponse', () => {
    it.each(Object.entries(subscribeResponses))('reads %s', (name, expected) => {
      expect(parseSubscribeResponse(corpusBytes(name))).toStrictEqual(expected);
    });

    const exchangeOnline = decoder.decode(corpusBytes('msdocs-subscribe-response-exchange-online-with-backend-cookie.http'));
    const soapPart = exchangeOnline.slice(exchangeOnline.indexOf('<?xml'));

    it('refuses the Exchange Online sample as published, whose SOAP namespace is spelled https://', () => {
      thrownBy(() => parseSubscribeResponse(soapPart), EwsMalformedError);
    });

    it('reads the Exchange Online sample, which has no Watermark, once its SOAP namespace is the real http:// one', () => {
      const repaired = soapPart.replace('https://schemas.xmlsoap.org/soap/envelope/', 'http://schemas.xmlsoap.org/soap/envelope/');

      expect(parseSubscribeResponse(repaired)).toStrictEqual({
        ok: true,
        subscriptionId: 'JgBjbzFwcjA2bWIyMjIubmFtcHJkMDYucHJvZC5vdXRsb29rLmNvbRAAAAAUeGk+7JFdSaFM8/NI/gQQpVdgZX6H0Ag=',
      });
    });

    const others = corpusFiles.filter((name) => !(name in subscribeResponses));
    it.each(others)('refuses %s as malformed', (name) => {
      thrownBy(() => parseSubscribeResponse(corpusBytes(name)), EwsMalformedError);
    });
  });
});
