import { XMLParser } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import {
  EwsArgumentError,
  EwsDoctypeError,
  EwsMalformedError,
  buildPushSubscribeRequest,
  parseSubscribeResponse,
  type PushSubscribeInput,
} from '../../../shared/ews/index.js';
import { MESSAGES_NS, SOAP_NS, TYPES_NS, corpusBytes, fixtureBytes, thrownBy } from './ews-test-support.js';

const CALLBACK = 'https://relay.example.com/v1/ews/8d3f2c51a0b94e7c9f1d2e3a4b5c6d7e';

type Ordered = Array<Record<string, unknown>>;

/** Parses with fast-xml-parser keeping order and prefixes, so the test sees exactly what Exchange would. */
function ordered(xml: string): Ordered {
  return new XMLParser({ preserveOrder: true, ignoreAttributes: false, attributeNamePrefix: '', parseTagValue: false }).parse(xml);
}

function tagOf(node: Record<string, unknown>): string {
  return Object.keys(node).find((key) => key !== ':@') ?? '';
}

function child(nodes: Ordered, tag: string): Record<string, unknown> {
  const found = nodes.find((node) => tagOf(node) === tag);
  if (!found) throw new Error(`no ${tag} among ${nodes.map(tagOf).join(', ')}`);
  return found;
}

function childrenOf(node: Record<string, unknown>): Ordered {
  return node[tagOf(node)] as Ordered;
}

function attributesOf(node: Record<string, unknown>): Record<string, string> {
  return (node[':@'] ?? {}) as Record<string, string>;
}

function textOf(node: Record<string, unknown>): string {
  return childrenOf(node)
    .map((part) => String(part['#text'] ?? ''))
    .join('');
}

/** The Envelope, Header and PushSubscriptionRequest nodes of a built request. */
function requestParts(xml: string) {
  const envelope = child(ordered(xml), 'soap:Envelope');
  const header = child(childrenOf(envelope), 'soap:Header');
  const subscribe = child(childrenOf(child(childrenOf(envelope), 'soap:Body')), 'm:Subscribe');
  const push = child(childrenOf(subscribe), 'm:PushSubscriptionRequest');
  return { envelope, header, push, pushChildren: childrenOf(push) };
}

describe('buildPushSubscribeRequest', () => {
  it('builds a SOAP push subscription for new mail in the inbox every 30 minutes by default', () => {
    const xml = buildPushSubscribeRequest({ callbackUrl: CALLBACK });
    const { envelope, header, pushChildren } = requestParts(xml);

    expect(xml.startsWith('<?xml version="1.0" encoding="utf-8"?>')).toBe(true);
    expect(attributesOf(envelope)).toEqual({ 'xmlns:soap': SOAP_NS, 'xmlns:t': TYPES_NS, 'xmlns:m': MESSAGES_NS });
    expect(childrenOf(header).map(tagOf)).toEqual(['t:RequestServerVersion']);
    expect(attributesOf(child(childrenOf(header), 't:RequestServerVersion'))).toEqual({ Version: 'Exchange2013' });
    expect(pushChildren.map(tagOf)).toEqual(['t:FolderIds', 't:EventTypes', 't:StatusFrequency', 't:URL']);
    const folders = childrenOf(child(pushChildren, 't:FolderIds'));
    expect(folders.map((f) => [tagOf(f), attributesOf(f)])).toEqual([['t:DistinguishedFolderId', { Id: 'inbox' }]]);
    expect(childrenOf(child(pushChildren, 't:EventTypes')).map(textOf)).toEqual(['NewMailEvent']);
    expect(textOf(child(pushChildren, 't:StatusFrequency'))).toBe('30');
    expect(textOf(child(pushChildren, 't:URL'))).toBe(CALLBACK);
  });

  it('orders FolderIds, EventTypes, Watermark, StatusFrequency, URL and adds impersonation to the header', () => {
    const xml = buildPushSubscribeRequest({
      callbackUrl: CALLBACK,
      statusFrequencyMinutes: 5,
      folderIds: ['inbox', 'junkemail'],
      eventTypes: ['NewMailEvent', 'ModifiedEvent', 'NewMailEvent'],
      watermark: 'AQAAAOpvG0LURVdOhQkPOWZLPcI8EgAAAAAAAAE=',
      requestServerVersion: 'Exchange2016',
      impersonateSmtpAddress: 'alfred@contoso.com',
    });
    const { header, pushChildren } = requestParts(xml);

    expect(pushChildren.map(tagOf)).toEqual(['t:FolderIds', 't:EventTypes', 't:Watermark', 't:StatusFrequency', 't:URL']);
    expect(childrenOf(child(pushChildren, 't:FolderIds')).map((f) => attributesOf(f).Id)).toEqual(['inbox', 'junkemail']);
    expect(childrenOf(child(pushChildren, 't:EventTypes')).map(textOf)).toEqual(['NewMailEvent', 'ModifiedEvent']);
    expect(textOf(child(pushChildren, 't:Watermark'))).toBe('AQAAAOpvG0LURVdOhQkPOWZLPcI8EgAAAAAAAAE=');
    expect(textOf(child(pushChildren, 't:StatusFrequency'))).toBe('5');
    expect(attributesOf(child(childrenOf(header), 't:RequestServerVersion'))).toEqual({ Version: 'Exchange2016' });
    const impersonation = child(childrenOf(header), 't:ExchangeImpersonation');
    const sid = child(childrenOf(impersonation), 't:ConnectingSID');
    expect(textOf(child(childrenOf(sid), 't:SmtpAddress'))).toBe('alfred@contoso.com');
  });

  it('builds the same PushSubscriptionRequest as the published WorkMail sample', () => {
    const published = new TextDecoder().decode(corpusBytes('workmail-subscribe-push-request.xml'));
    const input: PushSubscribeInput = {
      callbackUrl: 'https://YOUR_PUSH_RESPONDER_URL',
      statusFrequencyMinutes: 1,
      eventTypes: ['NewMailEvent', 'CopiedEvent', 'CreatedEvent', 'DeletedEvent', 'ModifiedEvent', 'MovedEvent'],
    };
    const unprefixed = new XMLParser({ removeNSPrefix: true, ignoreAttributes: false, parseTagValue: false });
    const pushRequestOf = (xml: string) => unprefixed.parse(xml).Envelope.Body.Subscribe.PushSubscriptionRequest;

    expect(pushRequestOf(buildPushSubscribeRequest(input))).toEqual(pushRequestOf(published));
  });

  it('escapes every value so that it reads back unchanged', () => {
    const callbackUrl = "https://relay.example.com/cb?mailbox=a&secret=<'x'>&q=\"y\"";
    const watermark = 'wm&<>"\'';
    const xml = buildPushSubscribeRequest({ callbackUrl, watermark, impersonateSmtpAddress: "o'brien&co@contoso.com" });

    const { header, pushChildren } = requestParts(xml);
    const decoded = new XMLParser({ removeNSPrefix: true, parseTagValue: false, processEntities: true }).parse(xml);

    expect(pushChildren.map(tagOf)).toEqual(['t:FolderIds', 't:EventTypes', 't:Watermark', 't:StatusFrequency', 't:URL']);
    expect(childrenOf(header).map(tagOf)).toEqual(['t:RequestServerVersion', 't:ExchangeImpersonation']);
    const request = decoded.Envelope.Body.Subscribe.PushSubscriptionRequest;
    expect(request.URL).toBe(callbackUrl);
    expect(request.Watermark).toBe(watermark);
    expect(decoded.Envelope.Header.ExchangeImpersonation.ConnectingSID.SmtpAddress).toBe("o'brien&co@contoso.com");
  });

  it.each([1, 1440])('accepts a status frequency of %i minutes', (minutes) => {
    const { pushChildren } = requestParts(buildPushSubscribeRequest({ callbackUrl: CALLBACK, statusFrequencyMinutes: minutes }));

    expect(textOf(child(pushChildren, 't:StatusFrequency'))).toBe(String(minutes));
  });

  it('accepts a plain http callback URL', () => {
    expect(buildPushSubscribeRequest({ callbackUrl: 'http://127.0.0.1:8080/cb/abc' })).toContain('<t:URL>http://127.0.0.1:8080/cb/abc</t:URL>');
  });

  const invalid: Array<[string, PushSubscribeInput, RegExp]> = [
    ['a status frequency of 0', { callbackUrl: CALLBACK, statusFrequencyMinutes: 0 }, /statusFrequencyMinutes/],
    ['a status frequency of 1441', { callbackUrl: CALLBACK, statusFrequencyMinutes: 1441 }, /statusFrequencyMinutes/],
    ['a fractional status frequency', { callbackUrl: CALLBACK, statusFrequencyMinutes: 1.5 }, /statusFrequencyMinutes/],
    ['an ftp callback URL', { callbackUrl: 'ftp://relay.example.com/cb' }, /callbackUrl/],
    ['a javascript: callback URL', { callbackUrl: 'javascript:alert(1)' }, /callbackUrl/],
    ['a relative callback URL', { callbackUrl: '/v1/ews/cb' }, /callbackUrl/],
    ['a callback URL with credentials', { callbackUrl: 'https://user:pw@relay.example.com/cb' }, /callbackUrl/],
    ['no event type', { callbackUrl: CALLBACK, eventTypes: [] }, /eventTypes/],
    ['StatusEvent, which Exchange sends unasked', { callbackUrl: CALLBACK, eventTypes: ['StatusEvent' as 'NewMailEvent'] }, /eventTypes/],
    ['no folder', { callbackUrl: CALLBACK, folderIds: [] }, /folderIds/],
    ['a folder id that is not a distinguished name', { callbackUrl: CALLBACK, folderIds: ['inbox"/><x'] }, /folderIds/],
    ['an empty watermark', { callbackUrl: CALLBACK, watermark: '' }, /watermark/],
    ['a server version with markup', { callbackUrl: CALLBACK, requestServerVersion: 'Exchange2013"/>' }, /requestServerVersion/],
    ['an impersonated address that is not an address', { callbackUrl: CALLBACK, impersonateSmtpAddress: 'alfred' }, /impersonateSmtpAddress/],
    ['an unknown option', { callbackUrl: CALLBACK, callerData: 'secret' } as PushSubscribeInput, /callerData|unrecognized/i],
  ];
  it.each(invalid)('refuses %s', (_, input, field) => {
    const error = thrownBy(() => buildPushSubscribeRequest(input), EwsArgumentError);

    expect(error.message).toMatch(field);
  });

  it('does not repeat the callback URL, which carries a secret, in its error', () => {
    const error = thrownBy(
      () => buildPushSubscribeRequest({ callbackUrl: 'ftp://relay.example.com/cb/8d3f2c51a0b94e7c', statusFrequencyMinutes: 0 }),
      EwsArgumentError,
    );

    expect(error.message).not.toContain('8d3f2c51a0b94e7c');
  });

  it('refuses a watermark holding a character XML cannot carry', () => {
    thrownBy(() => buildPushSubscribeRequest({ callbackUrl: CALLBACK, watermark: 'wm\u0000' }), EwsArgumentError);
  });
});

describe('parseSubscribeResponse', () => {
  it('reads a SOAP Fault as a failure with its EWS response code', () => {
    expect(parseSubscribeResponse(fixtureBytes('synthetic-subscribe-response-soap-fault.xml'))).toStrictEqual({
      ok: false,
      responseCode: 'ErrorServerBusy',
      messageText: 'The server cannot service this request right now. Try again later.',
    });
  });

  it('reads a Fault without EWS detail as a failure with its faultcode', () => {
    const xml = `<s:Envelope xmlns:s="${SOAP_NS}"><s:Body><s:Fault><faultcode>s:Client</faultcode></s:Fault></s:Body></s:Envelope>`;

    expect(parseSubscribeResponse(xml)).toStrictEqual({ ok: false, responseCode: 's:Client' });
  });

  it('refuses a successful response message without SubscriptionId', () => {
    const xml =
      `<s:Envelope xmlns:s="${SOAP_NS}"><s:Body><m:SubscribeResponse xmlns:m="${MESSAGES_NS}"><m:ResponseMessages>` +
      '<m:SubscribeResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode></m:SubscribeResponseMessage>' +
      '</m:ResponseMessages></m:SubscribeResponse></s:Body></s:Envelope>';

    thrownBy(() => parseSubscribeResponse(xml), EwsMalformedError);
  });

  it('refuses a DOCTYPE', () => {
    const published = new TextDecoder().decode(corpusBytes('msdocs-subscribe-push-response-unprefixed-children.xml'));

    thrownBy(() => parseSubscribeResponse(published.replace('<soap:Envelope', '<!DOCTYPE soap:Envelope><soap:Envelope')), EwsDoctypeError);
  });

  it('refuses the request it would answer', () => {
    thrownBy(() => parseSubscribeResponse(buildPushSubscribeRequest({ callbackUrl: CALLBACK })), EwsMalformedError);
  });
});
