import fc from 'fast-check';
import { XMLParser } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import {
  EwsArgumentError,
  EwsBodyTooLargeError,
  EwsDoctypeError,
  EwsMalformedError,
  MAX_EWS_BODY_BYTES,
  buildSendNotificationResult,
  parseSendNotification,
  parseSendNotificationResult,
  type SubscriptionStatus,
} from '../../../shared/ews/index.js';
import { MESSAGES_NS, SOAP_NS, TYPES_NS, fixtureBytes, fixtureText, sendNotificationBody, thrownBy } from './ews-test-support.js';

const encoder = new TextEncoder();

const NEW_MAIL = `<t:SubscriptionId>sub-1</t:SubscriptionId><t:PreviousWatermark>wm-0</t:PreviousWatermark>
<t:MoreEvents>false</t:MoreEvents><t:NewMailEvent><t:Watermark>wm-1</t:Watermark><t:TimeStamp>2026-11-23T09:00:00Z</t:TimeStamp>
<t:ItemId Id="item-1" ChangeKey="ck-1"/><t:ParentFolderId Id="folder-1"/></t:NewMailEvent>`;
const NEW_MAIL_NOTIFICATION = {
  subscriptionId: 'sub-1',
  previousWatermark: 'wm-0',
  moreEvents: false,
  events: [
    {
      type: 'NewMail',
      watermark: 'wm-1',
      timeStamp: '2026-11-23T09:00:00Z',
      itemId: { id: 'item-1', changeKey: 'ck-1' },
      parentFolderId: { id: 'folder-1' },
    },
  ],
};

/** A valid body padded with trailing whitespace (allowed after the root element) to exactly `bytes` bytes. */
function paddedBody(bytes: number): Uint8Array {
  const body = encoder.encode(sendNotificationBody(NEW_MAIL));
  const padded = new Uint8Array(bytes).fill(0x20);
  padded.set(body);
  return padded;
}

function prototypeKeys(): string[] {
  return Object.getOwnPropertyNames(Object.prototype).sort();
}

describe('parseSendNotification', () => {
  describe('synthetic shapes missing from the public corpus', () => {
    it('reads a typical Exchange 2013 NewMail push', () => {
      const [notification, ...rest] = parseSendNotification(fixtureBytes('synthetic-sendnotification-typical-newmail.xml'));

      expect(rest).toHaveLength(0);
      expect(notification).toStrictEqual({
        subscriptionId: 'JgBjbzFwcjA2bWIyMjIubmFtcHJkMDYucHJvZC5vdXRsb29rLmNvbRAAAAAUeGk+7JFdSaFM8/NI/gQQpVdgZX6H0Ag=',
        previousWatermark: 'AQAAAOpvG0LURVdOhQkPOWZLPcI8EgAAAAAAAAE=',
        moreEvents: false,
        events: [
          {
            type: 'NewMail',
            watermark: 'AQAAAOpvG0LURVdOhQkPOWZLPcJCEgAAAAAAAAE=',
            timeStamp: '2026-11-23T09:14:07Z',
            itemId: {
              id: 'AAMkADkzNjJjODUzLWZhMDMtNDVkMS05ZDdjLWVmMDlkYjQ1Zjc4MwBGAAAAAABSSWVKrmGUTJE+MVIvofglBwDZGACZQpSgSpyNkexYe2b7AAAAAAENAADZGACZQpSgSpyNkexYe2b7AAANGFYwAAA=',
              changeKey: 'CQAAABYAAADZGACZQpSgSpyNkexYe2b7AAANGKNE',
            },
            parentFolderId: {
              id: 'AQMkADkzNjJjODUzLWZhMDMtNDVkMS05ZDdjLWVmMDlkYjQ1Zjc4MwAuAAADUkllSq5hlEyRPjFSL6H4JQEA2RgAmUKUoEqcjZHsWHtm+wAAAgENAAAA',
              changeKey: 'AQAAAA==',
            },
          },
        ],
      });
    });

    it('reads MoreEvents=true', () => {
      const [notification] = parseSendNotification(fixtureBytes('synthetic-sendnotification-moreevents-true.xml'));

      expect(notification?.moreEvents).toBe(true);
      expect(notification?.subscriptionId).toBe('sub-more-events');
      expect(notification?.events.map((e) => [e.type, e.watermark, e.itemId?.id])).toEqual([['NewMail', 'wm-101', 'item-101']]);
    });

    it('reads every notification of a body with several response messages and skips the error message', () => {
      const notifications = parseSendNotification(fixtureBytes('synthetic-sendnotification-several-messages.xml'));

      expect(notifications).toStrictEqual([
        {
          subscriptionId: 'sub-first',
          previousWatermark: 'wm-a0',
          moreEvents: false,
          events: [
            {
              type: 'NewMail',
              watermark: 'wm-a1',
              timeStamp: '2026-11-23T09:00:00Z',
              itemId: { id: 'item-a1' },
              parentFolderId: { id: 'folder-inbox' },
            },
          ],
        },
        { subscriptionId: 'sub-second', previousWatermark: 'wm-b0', moreEvents: false, events: [{ type: 'Status', watermark: 'wm-b0' }] },
      ]);
    });

    it('keeps events of mixed types in document order and ignores unknown event elements', () => {
      const [notification] = parseSendNotification(fixtureBytes('synthetic-sendnotification-mixed-events.xml'));

      expect(notification?.events).toStrictEqual([
        {
          type: 'Created',
          watermark: 'wm-1',
          timeStamp: '2026-11-23T10:00:01Z',
          itemId: { id: 'item-new', changeKey: 'ck-new' },
          parentFolderId: { id: 'folder-inbox' },
        },
        {
          type: 'Moved',
          watermark: 'wm-2',
          timeStamp: '2026-11-23T10:00:02Z',
          itemId: { id: 'item-moved' },
          parentFolderId: { id: 'folder-archive' },
          oldItemId: { id: 'item-moved-old' },
          oldParentFolderId: { id: 'folder-inbox' },
        },
        {
          type: 'Copied',
          watermark: 'wm-3',
          timeStamp: '2026-11-23T10:00:03Z',
          folderId: { id: 'folder-copy' },
          parentFolderId: { id: 'folder-root' },
          oldFolderId: { id: 'folder-original' },
          oldParentFolderId: { id: 'folder-projects' },
        },
        {
          type: 'Deleted',
          watermark: 'wm-4',
          timeStamp: '2026-11-23T10:00:04Z',
          itemId: { id: 'item-gone' },
          parentFolderId: { id: 'folder-deleted' },
        },
        {
          type: 'FreeBusyChanged',
          watermark: 'wm-5',
          timeStamp: '2026-11-23T10:00:05Z',
          itemId: { id: 'item-meeting' },
          parentFolderId: { id: 'folder-calendar' },
        },
        {
          type: 'Modified',
          watermark: 'wm-6',
          timeStamp: '2026-11-23T10:00:06Z',
          folderId: { id: 'folder-inbox', changeKey: 'ck-inbox' },
          parentFolderId: { id: 'folder-root' },
          unreadCount: 7,
        },
        {
          type: 'NewMail',
          watermark: 'wm-7',
          timeStamp: '2026-11-23T10:00:07Z',
          itemId: { id: 'item-new', changeKey: 'ck-new' },
          parentFolderId: { id: 'folder-inbox' },
        },
      ]);
    });

    it('reads a streaming-style NewMail without Watermark, PreviousWatermark or MoreEvents', () => {
      const notifications = parseSendNotification(fixtureBytes('synthetic-sendnotification-newmail-without-watermark.xml'));

      expect(notifications).toStrictEqual([
        {
          subscriptionId: 'sub-streaming-style',
          moreEvents: false,
          events: [
            {
              type: 'NewMail',
              timeStamp: '2026-11-23T11:30:00Z',
              itemId: { id: 'item-no-watermark', changeKey: 'CQAAAA==' },
              parentFolderId: { id: 'folder-inbox', changeKey: 'AQAAAA==' },
            },
          ],
        },
      ]);
    });

    it('reads a body with a UTF-8 BOM and CRLF line ends', () => {
      const bytes = fixtureBytes('synthetic-sendnotification-bom-crlf.xml');
      // Guards the fixture itself: it must really start with a BOM and use CRLF.
      expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
      expect(new TextDecoder().decode(bytes)).toContain('\r\n');

      const notifications = parseSendNotification(bytes);

      expect(notifications).toStrictEqual([
        {
          subscriptionId: 'sub-bom-crlf',
          previousWatermark: 'wm-bom-0',
          moreEvents: false,
          events: [
            {
              type: 'NewMail',
              watermark: 'wm-bom-1',
              timeStamp: '2026-11-23T09:14:07Z',
              itemId: { id: 'item-bom', changeKey: 'ck-101' },
              parentFolderId: { id: 'inbox-folder', changeKey: 'ck-inbox' },
            },
          ],
        },
      ]);
    });

    it('reads a BOM-prefixed body given as text', () => {
      expect(parseSendNotification(`\uFEFF${sendNotificationBody(NEW_MAIL)}`)).toStrictEqual([NEW_MAIL_NOTIFICATION]);
    });

    it('reads default namespaces on every element and decodes entity references but not CDATA', () => {
      const [notification] = parseSendNotification(fixtureBytes('synthetic-sendnotification-default-namespace.xml'));

      expect(notification).toStrictEqual({
        subscriptionId: 'sub&default-ns',
        previousWatermark: 'wm&amp;raw',
        moreEvents: false,
        events: [
          {
            type: 'NewMail',
            watermark: 'wm-default-1',
            timeStamp: '2026-11-23T12:00:00Z',
            itemId: { id: 'AAMk+Q==', changeKey: `CQ"<>'` },
            parentFolderId: { id: 'folder-inbox' },
          },
        ],
      });
    });

    it('accepts Notification in the types namespace as well as the messages namespace', () => {
      expect(parseSendNotification(sendNotificationBody(NEW_MAIL, 't:Notification'))).toStrictEqual([NEW_MAIL_NOTIFICATION]);
    });

    it('refuses whitespace before the XML declaration (XML allows it only at the very start)', () => {
      thrownBy(() => parseSendNotification(`\r\n  ${sendNotificationBody(NEW_MAIL)}`), EwsMalformedError);
      thrownBy(() => parseSendNotification(` ${sendNotificationBody(NEW_MAIL)}`), EwsMalformedError);
    });

    it.each([
      ['a version that is not 1.x', '<?xml version="1.0 (http://www.w3.org/TR/REC-xml/)" encoding="utf-8"?>'],
      ['version 2.0', '<?xml version="2.0"?>'],
      ['no version', '<?xml encoding="utf-8"?>'],
      ['encoding before version', '<?xml encoding="utf-8" version="1.0"?>'],
      ['an unknown pseudo-attribute', '<?xml version="1.0" foo="bar"?>'],
      ['standalone other than yes or no', '<?xml version="1.0" standalone="maybe"?>'],
      ['mismatched quotes', `<?xml version="1.0'?>`],
    ])('refuses an XML declaration with %s', (_case, declaration) => {
      const body = sendNotificationBody(NEW_MAIL).replace('<?xml version="1.0" encoding="utf-8"?>', declaration);
      expect(body.startsWith(declaration)).toBe(true);

      thrownBy(() => parseSendNotification(body), EwsMalformedError);
    });

    it.each([
      ['version only', '<?xml version="1.0"?>'],
      ['version 1.1 with single quotes', "<?xml version='1.1'?>"],
      ['everything, spaced out', '<?xml  version = "1.0"  encoding = "UTF-8"  standalone = "yes" ?>'],
    ])('accepts an XML declaration with %s', (_case, declaration) => {
      const body = sendNotificationBody(NEW_MAIL).replace('<?xml version="1.0" encoding="utf-8"?>', declaration);

      expect(parseSendNotification(body)).toStrictEqual([NEW_MAIL_NOTIFICATION]);
    });

    it.each([
      ['"--" inside a comment', '<!-- a -- b -->'],
      ['a comment ending in "-"', '<!-- a --->'],
      ['"]]>" in character data', '<t:Extra>x]]>y</t:Extra>'],
      ['one attribute twice through two prefixes of one namespace', '<t:Extra xmlns:p="urn:1" xmlns:q="urn:1" p:x="1" q:x="2"/>'],
    ])('refuses a body with %s', (_case, insert) => {
      const body = sendNotificationBody(NEW_MAIL.replace('<t:Watermark>', `${insert}<t:Watermark>`));

      thrownBy(() => parseSendNotification(body), EwsMalformedError);
    });

    it('accepts comments, "<!--" inside CDATA, "]]>" inside CDATA and attributes of two namespaces', () => {
      const body = sendNotificationBody(
        NEW_MAIL.replace(
          '<t:Watermark>',
          '<!-- a - b --><t:Extra xmlns:p="urn:1" xmlns:q="urn:2" p:x="1" q:x="2"><![CDATA[ <!-- a -- b ]]></t:Extra><t:Watermark>',
        ),
      );

      expect(parseSendNotification(body)).toStrictEqual([NEW_MAIL_NOTIFICATION]);
    });

    it('reads a notification of 1,000 events, the most a 256 KiB body comfortably holds', () => {
      const events = Array.from(
        { length: 1_000 },
        (_, i) =>
          `<t:NewMailEvent><t:Watermark>wm-${i}</t:Watermark><t:TimeStamp>2026-11-23T09:00:00Z</t:TimeStamp>` +
          `<t:ItemId Id="item-${i}"/><t:ParentFolderId Id="folder-1"/></t:NewMailEvent>`,
      );
      const body = sendNotificationBody(`<t:SubscriptionId>sub-1</t:SubscriptionId>${events.join('')}`);
      expect(encoder.encode(body).byteLength).toBeLessThanOrEqual(MAX_EWS_BODY_BYTES);

      const [notification] = parseSendNotification(body);

      expect(notification?.events).toHaveLength(1_000);
      expect(notification?.events[999]).toStrictEqual({
        type: 'NewMail',
        watermark: 'wm-999',
        timeStamp: '2026-11-23T09:00:00Z',
        itemId: { id: 'item-999' },
        parentFolderId: { id: 'folder-1' },
      });
    });

    it('returns no notification when every response message is an error', () => {
      const body =
        `<s:Envelope xmlns:s="${SOAP_NS}"><s:Body><SendNotification xmlns="${MESSAGES_NS}"><ResponseMessages>` +
        '<SendNotificationResponseMessage ResponseClass="Error"><ResponseCode>ErrorInternalServerError</ResponseCode>' +
        '</SendNotificationResponseMessage></ResponseMessages></SendNotification></s:Body></s:Envelope>';

      expect(parseSendNotification(body)).toEqual([]);
    });
  });

  describe('refuses what is not a SendNotification', () => {
    const malformed: Array<[string, string, RegExp]> = [
      ['a missing SubscriptionId', sendNotificationBody('<t:MoreEvents>false</t:MoreEvents>'), /no SubscriptionId/],
      ['an empty SubscriptionId', sendNotificationBody('<t:SubscriptionId> </t:SubscriptionId>'), /no SubscriptionId/],
      [
        'two SubscriptionIds',
        sendNotificationBody('<t:SubscriptionId>a</t:SubscriptionId><t:SubscriptionId>b</t:SubscriptionId>'),
        /more than one SubscriptionId/,
      ],
      [
        'an ItemId without Id',
        sendNotificationBody('<t:SubscriptionId>a</t:SubscriptionId><t:NewMailEvent><t:ItemId/></t:NewMailEvent>'),
        /ItemId has no Id/,
      ],
      [
        'a MoreEvents that is not a boolean',
        sendNotificationBody('<t:SubscriptionId>a</t:SubscriptionId><t:MoreEvents>maybe</t:MoreEvents>'),
        /not a boolean/,
      ],
      [
        'an UnreadCount that is not an integer',
        sendNotificationBody('<t:SubscriptionId>a</t:SubscriptionId><t:ModifiedEvent><t:UnreadCount>1.5</t:UnreadCount></t:ModifiedEvent>'),
        /not an integer/,
      ],
      [
        'a successful response message without Notification',
        sendNotificationBody('<t:SubscriptionId>a</t:SubscriptionId>').replace(/<m:Notification>.*<\/m:Notification>/, ''),
        /no Notification/,
      ],
      [
        'a SOAP 1.2 envelope',
        sendNotificationBody(NEW_MAIL).replace(SOAP_NS, 'http://www.w3.org/2003/05/soap-envelope'),
        /not a SOAP 1.1 envelope/,
      ],
      [
        'the https:// SOAP namespace artefact',
        sendNotificationBody(NEW_MAIL).replace(SOAP_NS, SOAP_NS.replace('http:', 'https:')),
        /not a SOAP 1.1 envelope/,
      ],
      [
        'SendNotification outside the messages namespace',
        sendNotificationBody(NEW_MAIL).replace(`xmlns:m="${MESSAGES_NS}"`, `xmlns:m="${TYPES_NS}"`),
        /does not hold a SendNotification/,
      ],
      ['a root that is not an Envelope', `<m:SendNotification xmlns:m="${MESSAGES_NS}"/>`, /not a SOAP 1.1 envelope/],
      ['two Bodies', sendNotificationBody(NEW_MAIL).replace('</soap:Envelope>', '<soap:Body/></soap:Envelope>'), /one Body/],
      [
        'an undeclared prefix',
        sendNotificationBody(NEW_MAIL).replace('<t:MoreEvents>false</t:MoreEvents>', '<x:Y/>'),
        /prefix is not declared/,
      ],
      ['mismatched tags', sendNotificationBody(NEW_MAIL).replace('</t:NewMailEvent>', '</t:NewMail>'), /not well-formed/],
      ['two roots', `${sendNotificationBody(NEW_MAIL)}<soap:Envelope xmlns:soap="${SOAP_NS}"/>`, /root/],
      ['an unclosed Envelope', sendNotificationBody(NEW_MAIL).replace('</soap:Envelope>', ''), /not well-formed/],
      ['text after the root', `${sendNotificationBody(NEW_MAIL)}trailing`, /not well-formed/],
      ['an unknown entity', sendNotificationBody(NEW_MAIL).replace('sub-1', 'sub&nbsp;1'), /unknown entity/],
      ['a stray ampersand in an attribute', sendNotificationBody(NEW_MAIL).replace('item-1', 'item&1'), /stray/],
      ['a character reference to NUL', sendNotificationBody(NEW_MAIL).replace('sub-1', 'sub&#0;1'), /character reference/],
      [
        'a raw control character',
        sendNotificationBody(NEW_MAIL).replace('sub-1', 'sub\u00011'),
        /characters XML does not allow/,
      ],
      [
        'an unpaired surrogate in text input',
        sendNotificationBody(NEW_MAIL).replace('sub-1', 'sub\uD8001'),
        /characters XML does not allow/,
      ],
      [
        'a declared encoding other than UTF-8',
        sendNotificationBody(NEW_MAIL).replace('encoding="utf-8"', 'encoding="ISO-8859-1"'),
        /UTF-8/,
      ],
      ['a second XML declaration', `<?xml version="1.0"?>${sendNotificationBody(NEW_MAIL)}`, /processing instruction/],
      [
        'a processing instruction',
        sendNotificationBody(NEW_MAIL).replace('<soap:Body>', '<?relay x?><soap:Body>'),
        /processing instruction/,
      ],
      [
        'more than 16,384 elements',
        sendNotificationBody(NEW_MAIL.replace('<t:Watermark>', `${'<t:X/>'.repeat(16_384)}<t:Watermark>`)),
        /too many elements/,
      ],
      [
        'an ELEMENT declaration outside a DTD',
        sendNotificationBody(NEW_MAIL).replace('<soap:Body>', '<!ELEMENT x ANY><soap:Body>'),
        /markup declaration/,
      ],
      ['an empty body', '', /not well-formed/],
      ['a whitespace-only body', ' \r\n\t', /not well-formed/],
      ['a JSON body', '{"value":[{"subscriptionId":"sub-1","changeType":"created"}]}', /not well-formed/],
      ['plain text', 'hello', /not well-formed/],
    ];
    it.each(malformed)('refuses %s', (_, body, reason) => {
      const error = thrownBy(() => parseSendNotification(body), EwsMalformedError);

      expect(error.message).toMatch(reason);
    });

    it('refuses an empty byte body', () => {
      thrownBy(() => parseSendNotification(new Uint8Array(0)), EwsMalformedError);
    });

    it('refuses a body that is neither text nor bytes', () => {
      thrownBy(() => parseSendNotification({ length: 3 } as unknown as string), EwsMalformedError);
    });
  });

  describe('hostile bodies', () => {
    it('refuses a DOCTYPE with internal entities before parsing', () => {
      const laughs =
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">' +
        '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>' +
        sendNotificationBody('<t:SubscriptionId>&lol3;</t:SubscriptionId>').replace('<?xml version="1.0" encoding="utf-8"?>', '');

      thrownBy(() => parseSendNotification(laughs), EwsDoctypeError);
      thrownBy(() => parseSendNotification(encoder.encode(laughs)), EwsDoctypeError);
    });

    it('refuses an external entity', () => {
      const xxe =
        '<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>' +
        sendNotificationBody('<t:SubscriptionId>&xxe;</t:SubscriptionId>').replace(/^<\?xml[^>]*>/, '');

      thrownBy(() => parseSendNotification(encoder.encode(xxe)), EwsDoctypeError);
    });

    it.each([
      ['lower-case doctype', '<!doctype x>'],
      ['mixed-case DocType', '<!DocType x>'],
      ['a lone ENTITY declaration', '<!ENTITY x "y">'],
      ['a lower-case entity declaration', '<!entity x "y">'],
    ])('refuses %s anywhere in the body, even inside a comment', (_, declaration) => {
      const body = sendNotificationBody(NEW_MAIL).replace('<soap:Body>', `<!-- ${declaration} --><soap:Body>`);

      thrownBy(() => parseSendNotification(body), EwsDoctypeError);
      thrownBy(() => parseSendNotification(encoder.encode(body)), EwsDoctypeError);
    });

    it('checks for DOCTYPE before decoding, so invalid UTF-8 around it does not matter', () => {
      const bytes = new Uint8Array([...encoder.encode('<!DOCTYPE x>'), 0xc3, 0x28]);

      thrownBy(() => parseSendNotification(bytes), EwsDoctypeError);
    });

    it('refuses a body of 262,145 bytes as too large', () => {
      const error = thrownBy(() => parseSendNotification(paddedBody(262_145)), EwsBodyTooLargeError);

      expect(error.byteLength).toBe(262_145);
      expect(error.maxBytes).toBe(262_144);
    });

    it('accepts a valid body of exactly 262,144 bytes', () => {
      expect(MAX_EWS_BODY_BYTES).toBe(262_144);
      expect(parseSendNotification(paddedBody(262_144))).toStrictEqual([NEW_MAIL_NOTIFICATION]);
    });

    it('measures text input in UTF-8 bytes, not characters', () => {
      const body = sendNotificationBody(NEW_MAIL);
      // 'é' is 2 bytes in UTF-8: the string stays under the limit in characters but not in bytes.
      const padding = 'é'.repeat(Math.ceil((MAX_EWS_BODY_BYTES - body.length) / 2) + 1);
      const text = body.replace('<soap:Body>', `<!--${padding}--><soap:Body>`);
      expect(text.length).toBeLessThan(MAX_EWS_BODY_BYTES);

      thrownBy(() => parseSendNotification(text), EwsBodyTooLargeError);
    });

    it('checks size before DOCTYPE', () => {
      const body = `<!DOCTYPE x>${' '.repeat(MAX_EWS_BODY_BYTES)}`;

      thrownBy(() => parseSendNotification(body), EwsBodyTooLargeError);
    });

    it('refuses 10,000-deep nesting without overflowing the stack', () => {
      const deep = `${'<t:Deep>'.repeat(10_000)}${'</t:Deep>'.repeat(10_000)}`;
      const body = sendNotificationBody(`<t:SubscriptionId>a</t:SubscriptionId><t:NewMailEvent>${deep}</t:NewMailEvent>`);

      const error = thrownBy(() => parseSendNotification(body), EwsMalformedError);
      expect(error.cause).not.toBeInstanceOf(RangeError);
    });

    it('accepts unknown elements nested well within the depth limit', () => {
      const nested = `${'<t:Extension>'.repeat(40)}${'</t:Extension>'.repeat(40)}`;
      const body = sendNotificationBody(NEW_MAIL.replace('<t:Watermark>', `${nested}<t:Watermark>`));

      expect(parseSendNotification(body)).toStrictEqual([NEW_MAIL_NOTIFICATION]);
    });

    it('refuses a 1 MB attribute as too large, before parsing it', () => {
      const body = sendNotificationBody(NEW_MAIL.replace('item-1', 'A'.repeat(1_048_576)));

      thrownBy(() => parseSendNotification(body), EwsBodyTooLargeError);
    });

    it('refuses an attribute of 200,000 characters inside an acceptable body', () => {
      const body = sendNotificationBody(NEW_MAIL.replace('item-1', 'A'.repeat(200_000)));

      thrownBy(() => parseSendNotification(body), EwsMalformedError);
    });

    it.each(['__proto__', 'constructor', 'prototype', 't:__proto__', 't:constructor', 't:prototype'])(
      'refuses an element named %s without touching prototypes',
      (name) => {
        const before = prototypeKeys();
        const body = sendNotificationBody(NEW_MAIL.replace('<t:Watermark>', `<${name}><polluted>yes</polluted></${name}><t:Watermark>`));

        thrownBy(() => parseSendNotification(body), EwsMalformedError);

        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        expect(prototypeKeys()).toEqual(before);
      },
    );

    it.each([
      ['an attribute', '<t:ItemId ', '<t:ItemId __proto__="polluted" '],
      ['an attribute named constructor', '<t:ItemId ', '<t:ItemId constructor="polluted" '],
      ['an attribute named prototype', '<t:NewMailEvent>', '<t:NewMailEvent prototype="x">'],
      ['a prefixed attribute', '<t:ItemId ', '<t:ItemId xmlns:x="urn:x" x:__proto__="polluted" '],
      ['an attribute prefix', '<t:ItemId ', '<t:ItemId xmlns:constructor="urn:x" constructor:a="polluted" '],
      ['a namespace prefix on an element', '<t:Watermark>', '<__proto__:Foo xmlns:__proto__="urn:x">1</__proto__:Foo><t:Watermark>'],
    ])('refuses %s with a reserved name without touching prototypes', (_case, anchor, replacement) => {
      const before = prototypeKeys();
      const body = sendNotificationBody(NEW_MAIL.replace(anchor, replacement));

      thrownBy(() => parseSendNotification(body), EwsMalformedError);

      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(prototypeKeys()).toEqual(before);
    });

    it('accepts names that only contain a reserved word (protoType, my__proto__, constructors)', () => {
      const body = sendNotificationBody(
        NEW_MAIL.replace('<t:ItemId ', '<t:ItemId protoType="a" my__proto__="b" constructors="c" ').replace(
          '<t:NewMailEvent>',
          '<t:NewMailEvent xmlns:prototypes="urn:x" prototypes:a="x">',
        ),
      );

      expect(parseSendNotification(body)).toStrictEqual([NEW_MAIL_NOTIFICATION]);
    });

    it.each([
      ['a truncated two-byte sequence', [0xc3, 0x28]],
      ['an overlong encoding of "/"', [0xc0, 0xaf]],
      ['an encoded surrogate', [0xed, 0xa0, 0x80]],
      ['a lone continuation byte', [0x80]],
      ['a byte that never occurs in UTF-8', [0xff]],
    ])('refuses invalid UTF-8: %s', (_, invalid) => {
      const [before, after] = sendNotificationBody(NEW_MAIL).split('sub-1') as [string, string];
      const bytes = new Uint8Array([...encoder.encode(before), ...invalid, ...encoder.encode(after)]);

      thrownBy(() => parseSendNotification(bytes), EwsMalformedError);
    });

    it('throws only its typed errors, whatever the bytes', () => {
      const valid = encoder.encode(sendNotificationBody(NEW_MAIL));
      const typed = (error: unknown) =>
        error instanceof EwsMalformedError || error instanceof EwsDoctypeError || error instanceof EwsBodyTooLargeError;
      fc.assert(
        fc.property(
          fc.array(fc.tuple(fc.nat({ max: valid.length }), fc.nat({ max: 40 }), fc.uint8Array({ maxLength: 12 })), { maxLength: 4 }),
          (edits) => {
            // Splice random bytes over random spans of a valid body: truncations, stray '<', broken UTF-8, ...
            let bytes = valid;
            for (const [at, remove, insert] of edits) {
              bytes = new Uint8Array([...bytes.subarray(0, at), ...insert, ...bytes.subarray(at + remove)]);
            }
            try {
              expect(Array.isArray(parseSendNotification(bytes))).toBe(true);
            } catch (error) {
              if (!typed(error)) throw error;
            }
          },
        ),
        { numRuns: 400 },
      );
    });

    it('throws only its typed errors for arbitrary text', () => {
      fc.assert(
        fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (text) => {
          try {
            parseSendNotification(text);
          } catch (error) {
            expect(error instanceof EwsMalformedError || error instanceof EwsDoctypeError).toBe(true);
          }
        }),
        { numRuns: 300 },
      );
    });
  });
});

describe('buildSendNotificationResult', () => {
  it.each<SubscriptionStatus>(['OK', 'Unsubscribe'])('answers %s in a SOAP 1.1 envelope that reads back the same', (status) => {
    const xml = buildSendNotificationResult(status);

    expect(xml.startsWith('<?xml version="1.0" encoding="utf-8"?>')).toBe(true);
    expect(parseSendNotificationResult(xml)).toBe(status);
  });

  it('puts SendNotificationResult in the messages namespace directly inside the SOAP Body', () => {
    const tree = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(buildSendNotificationResult('Unsubscribe'));

    expect(tree['soap:Envelope']['xmlns:soap']).toBe(SOAP_NS);
    const result = tree['soap:Envelope']['soap:Body']['m:SendNotificationResult'];
    expect(result['xmlns:m']).toBe(MESSAGES_NS);
    expect(result['m:SubscriptionStatus']).toBe('Unsubscribe');
  });

  it('refuses a status other than OK or Unsubscribe', () => {
    thrownBy(() => buildSendNotificationResult('Maybe' as SubscriptionStatus), EwsArgumentError);
  });
});

describe('parseSendNotificationResult', () => {
  it('refuses a SubscriptionStatus other than OK or Unsubscribe', () => {
    const xml = buildSendNotificationResult('OK').replace('>OK<', '>Later<');

    thrownBy(() => parseSendNotificationResult(xml), EwsMalformedError);
  });

  it('refuses a DOCTYPE', () => {
    thrownBy(() => parseSendNotificationResult(`<!DOCTYPE x>${buildSendNotificationResult('OK')}`), EwsDoctypeError);
  });

  it('refuses a SendNotification where a result is expected', () => {
    const xml = fixtureText('synthetic-sendnotification-typical-newmail.xml');
    thrownBy(() => parseSendNotificationResult(xml), EwsMalformedError);
  });
});
