import { randomBytes } from 'node:crypto';
import { escapeXml, EWS_MESSAGES_NS, EWS_TYPES_NS, SOAP_ENVELOPE_NS } from '../../../shared/ews/soap.js';
import { readXmlDocument, type XmlElement } from '../../../shared/ews/safe-xml.js';
import { ntlmIdentity, readNtlmAuthenticate, verifyNtlmv2Response, writeNtlmChallenge } from '../../../functions/_lib/ntlm.js';
import { startPlayedHttpServer, type PlayedAnswer, type PlayedHttpServer, type PlayedRequest } from './played-http.js';

/**
 * A played Exchange server (EWS on premises) for tests and the simulator: real HTTP on loopback, strict about what it
 * accepts, answering as Exchange does (HTTP 401 for a wrong password; SOAP faults with HTTP 500 for refused
 * impersonation, an unknown mailbox, schema errors and ErrorServerBusy; error response messages for unknown items).
 *
 * What it checks on every request: the path, Basic credentials, `text/xml`, a well-formed SOAP 1.1 envelope,
 * `RequestServerVersion` (Exchange2013 or later when `item:Preview` is asked for, as the schema of older versions has
 * no Preview), and for mailbox operations an `ExchangeImpersonation` of a known mailbox by an account with the
 * ApplicationImpersonation role, plus `X-AnchorMailbox` naming the same mailbox. GetItem must ask for IdOnly plus known
 * properties only, in the schema's order (BaseShape, then AdditionalProperties).
 *
 * Push `Subscribe` (issue 17): impersonated like the reads, `PushSubscriptionRequest` children in the schema's order
 * (FolderIds, EventTypes, optional Watermark, StatusFrequency 1..1440, URL), event types from the schema's list
 * (`StatusEvent` is not subscribable), an http(s) URL; answered with a SubscriptionId and a Watermark.
 */
export interface PlayedEwsMessage {
  itemId: string;
  mailbox: string;
  folder?: 'inbox' | 'archive';
  from: { name: string; address: string; routingType?: 'SMTP' | 'EX'; smtpAddress?: string };
  subject: string;
  preview: string;
  receivedAt: string;
}

export interface PlayedEwsOptions {
  username: string;
  password: string;
  mailboxes: string[];
  /** Whether the service account holds the ApplicationImpersonation role (default true). */
  impersonationAllowed?: boolean;
  /**
   * Basic (default), or NTLM as Exchange's Windows authentication does it: NEGOTIATE, a 401 with a CHALLENGE, and an
   * AUTHENTICATE with an NTLMv2 response on the same connection, checked against `username` (`DOMAIN\\user`) and
   * `password`. A connection is authenticated once, as IIS does.
   */
  auth?: 'basic' | 'ntlm';
  /**
   * NTLM as IIS may be set up: the providers it offers (`Negotiate, NTLM` by default; `Negotiate` alone takes NTLM
   * tokens under that scheme only), and a front end that closes the connection after the challenge (no persistence).
   */
  ntlm?: { providers?: 'both' | 'negotiate-only'; closeAfterChallenge?: boolean };
}

export interface PlayedEws extends Omit<PlayedHttpServer, 'baseUrl'> {
  /** The EWS endpoint (`.../EWS/Exchange.asmx`). */
  readonly url: string;
  addMessage(message: PlayedEwsMessage): void;
  /** A new item id in EWS's shape (base64). */
  newItemId(): string;
  setImpersonationAllowed(allowed: boolean): void;
  /** Queues ErrorServerBusy faults (HTTP 500 with BackOffMilliseconds), as Exchange's throttling answers. */
  queueServerBusy(backOffMs: number, times?: number): void;
  /** The operations seen, in order, with the impersonated mailbox. */
  operations(): Array<{ operation: string; impersonated?: string }>;
  /** Push subscriptions made, oldest first. */
  pushSubscriptions(): PlayedPushSubscription[];
}

export interface PlayedPushSubscription {
  subscriptionId: string;
  mailbox: string;
  url: string;
  statusFrequencyMinutes: number;
  folders: string[];
  eventTypes: string[];
}

const SUBSCRIBABLE_EVENT_TYPES = new Set(['NewMailEvent', 'CreatedEvent', 'DeletedEvent', 'ModifiedEvent', 'MovedEvent', 'CopiedEvent', 'FreeBusyChangedEvent']);

const EWS_PATH = '/EWS/Exchange.asmx';
const ERRORS_NS = 'http://schemas.microsoft.com/exchange/services/2006/errors';
const VERSIONS_WITH_PREVIEW = new Set(['Exchange2013', 'Exchange2013_SP1', 'Exchange2015', 'Exchange2016', 'V2015_10_05', 'V2016_01_06', 'V2017_04_14']);
const KNOWN_VERSIONS = new Set(['Exchange2007', 'Exchange2007_SP1', 'Exchange2010', 'Exchange2010_SP1', 'Exchange2010_SP2', ...VERSIONS_WITH_PREVIEW]);
const KNOWN_FIELDS = new Set(['message:From', 'item:Subject', 'item:Preview', 'item:DateTimeReceived', 'item:ParentFolderId']);

class SoapFault extends Error {
  constructor(
    readonly responseCode: string,
    readonly text: string,
    readonly backOffMs?: number,
  ) {
    super(text);
  }
}

function soap(body: string): PlayedAnswer {
  return {
    status: 200,
    headers: { 'content-type': 'text/xml; charset=utf-8' },
    body:
      '<?xml version="1.0" encoding="utf-8"?>' +
      `<s:Envelope xmlns:s="${SOAP_ENVELOPE_NS}"><s:Header><h:ServerVersionInfo MajorVersion="15" MinorVersion="2" MajorBuildNumber="1544" MinorBuildNumber="4" Version="V2017_07_11" xmlns:h="${EWS_TYPES_NS}"/></s:Header>` +
      `<s:Body>${body}</s:Body></s:Envelope>`,
  };
}

function fault(error: SoapFault): PlayedAnswer {
  const backOff =
    error.backOffMs === undefined
      ? ''
      : `<e:MessageXml xmlns:e="${ERRORS_NS}"><t:Value Name="BackOffMilliseconds" xmlns:t="${EWS_TYPES_NS}">${error.backOffMs}</t:Value></e:MessageXml>`;
  return {
    ...soap(
      `<s:Fault><faultcode xmlns:a="${EWS_TYPES_NS}">a:${error.responseCode}</faultcode><faultstring xml:lang="en-US">${escapeXml(error.text)}</faultstring>` +
        `<detail><e:ResponseCode xmlns:e="${ERRORS_NS}">${error.responseCode}</e:ResponseCode><e:Message xmlns:e="${ERRORS_NS}">${escapeXml(error.text)}</e:Message>${backOff}</detail></s:Fault>`,
    ),
    status: 500,
  };
}

const child = (parent: XmlElement, name: string) => parent.children.find((c) => c.localName === name);

export async function startPlayedEws(options: PlayedEwsOptions): Promise<PlayedEws> {
  const messages = new Map<string, PlayedEwsMessage>();
  const inboxIds = new Map(options.mailboxes.map((mailbox) => [mailbox.toLowerCase(), `AAMkInbox${randomBytes(12).toString('base64url').replace(/[-_]/g, 'x')}=`]));
  let impersonationAllowed = options.impersonationAllowed ?? true;
  const seen: Array<{ operation: string; impersonated?: string }> = [];
  const pushSubscriptions: PlayedPushSubscription[] = [];
  const ntlm = playedNtlm(options);

  function handle(request: PlayedRequest): PlayedAnswer {
    if (request.path !== EWS_PATH) return { status: 404, body: '' };
    if (request.method !== 'POST') return { status: 405, body: '' };
    if (options.auth === 'ntlm') {
      const refused = ntlm.check(request);
      if (refused) return refused;
    } else {
      const expected = `Basic ${Buffer.from(`${options.username}:${options.password}`).toString('base64')}`;
      if (request.headers.authorization !== expected) {
        return { status: 401, headers: { 'www-authenticate': 'Basic realm="mail.example.com"' }, body: '' };
      }
    }
    if (!/^text\/xml\b/.test(request.headers['content-type'] ?? '')) return { status: 415, body: '' };
    try {
      return operation(request);
    } catch (error) {
      if (error instanceof SoapFault) return fault(error);
      return fault(new SoapFault('ErrorSchemaValidation', 'The request failed schema validation.'));
    }
  }

  function operation(request: PlayedRequest): PlayedAnswer {
    const root = readXmlDocument(request.body);
    if (root.localName !== 'Envelope' || root.namespace !== SOAP_ENVELOPE_NS) throw new SoapFault('ErrorSchemaValidation', 'not a SOAP envelope');
    const header = child(root, 'Header');
    const body = child(root, 'Body');
    const op = body?.children[0];
    if (!op || op.namespace !== EWS_MESSAGES_NS) throw new SoapFault('ErrorSchemaValidation', 'no operation');
    const version = header && child(header, 'RequestServerVersion')?.attributes.get('Version');
    if (version !== undefined && !KNOWN_VERSIONS.has(version)) throw new SoapFault('ErrorInvalidServerVersion', 'The specified server version is invalid.');
    const impersonation = header && child(header, 'ExchangeImpersonation');
    const impersonated = impersonation && child(child(impersonation, 'ConnectingSID') ?? impersonation, 'SmtpAddress')?.text.trim();
    seen.push({ operation: op.localName, ...(impersonated ? { impersonated } : {}) });

    if (op.localName === 'GetServerTimeZones') {
      return soap(
        `<m:GetServerTimeZonesResponse xmlns:m="${EWS_MESSAGES_NS}" xmlns:t="${EWS_TYPES_NS}"><m:ResponseMessages><m:GetServerTimeZonesResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:TimeZoneDefinitions/></m:GetServerTimeZonesResponseMessage></m:ResponseMessages></m:GetServerTimeZonesResponse>`,
      );
    }
    if (op.localName !== 'GetItem' && op.localName !== 'GetFolder' && op.localName !== 'Subscribe') throw new SoapFault('ErrorInvalidRequest', `${op.localName} is not played`);
    if (!impersonated) throw new SoapFault('ErrorMissingEmailAddress', 'The service account has no mailbox; impersonate the mailbox to read.');
    if (!inboxIds.has(impersonated.toLowerCase())) throw new SoapFault('ErrorNonExistentMailbox', 'The SMTP address has no mailbox associated with it.');
    if (!impersonationAllowed) throw new SoapFault('ErrorImpersonateUserDenied', 'The account does not have permission to impersonate the requested user.');
    const anchor = request.headers['x-anchormailbox'];
    if (typeof anchor !== 'string' || anchor.toLowerCase() !== impersonated.toLowerCase()) {
      throw new SoapFault('ErrorImpersonationFailed', 'X-AnchorMailbox must name the impersonated mailbox.');
    }
    if (op.localName === 'Subscribe') return subscribe(op, impersonated);
    return op.localName === 'GetItem' ? getItem(op, impersonated, version) : getFolder(op, impersonated);
  }

  function subscribe(op: XmlElement, mailbox: string): PlayedAnswer {
    const request = op.children[0];
    if (op.children.length !== 1 || request?.localName !== 'PushSubscriptionRequest') throw new SoapFault('ErrorSchemaValidation', 'Subscribe must hold one PushSubscriptionRequest (pull and streaming are not played).');
    const names = request.children.map((c) => c.localName);
    const expected = names.includes('Watermark') ? ['FolderIds', 'EventTypes', 'Watermark', 'StatusFrequency', 'URL'] : ['FolderIds', 'EventTypes', 'StatusFrequency', 'URL'];
    if (names.join(',') !== expected.join(',')) throw new SoapFault('ErrorSchemaValidation', `The element order of PushSubscriptionRequest is invalid: ${names.join(',')}.`);
    const [folderIds, eventTypes, ...rest] = request.children as [XmlElement, XmlElement, ...XmlElement[]];
    const folders = folderIds.children.map((folder) => {
      if (folder.localName !== 'DistinguishedFolderId' || !folder.attributes.get('Id')) throw new SoapFault('ErrorSchemaValidation', 'FolderIds holds DistinguishedFolderId or FolderId.');
      return folder.attributes.get('Id') as string;
    });
    const types = eventTypes.children.map((type) => {
      if (type.localName !== 'EventType' || !SUBSCRIBABLE_EVENT_TYPES.has(type.text.trim())) throw new SoapFault('ErrorSchemaValidation', `The EventType '${type.text.trim()}' is invalid.`);
      return type.text.trim();
    });
    if (folders.length === 0 || types.length === 0) throw new SoapFault('ErrorSchemaValidation', 'FolderIds and EventTypes must not be empty.');
    const frequencyText = rest[rest.length - 2]?.text.trim() ?? '';
    const frequency = /^\d+$/.test(frequencyText) ? Number(frequencyText) : NaN;
    if (!(frequency >= 1 && frequency <= 1440)) throw new SoapFault('ErrorSchemaValidation', 'StatusFrequency must be 1..1440.');
    const url = rest[rest.length - 1]?.text.trim() ?? '';
    if (!/^https?:\/\/[^\s]+$/.test(url)) throw new SoapFault('ErrorInvalidPushSubscriptionUrl', 'The push subscription URL is invalid.');
    const subscriptionId = `JwBkYjVw${randomBytes(30).toString('base64').replace(/[+/]/g, 'x')}`;
    const watermark = `AQAAA${randomBytes(24).toString('base64').replace(/[+/]/g, 'y')}`;
    pushSubscriptions.push({ subscriptionId, mailbox: mailbox.toLowerCase(), url, statusFrequencyMinutes: frequency, folders, eventTypes: types });
    return soap(
      `<m:SubscribeResponse xmlns:m="${EWS_MESSAGES_NS}" xmlns:t="${EWS_TYPES_NS}"><m:ResponseMessages><m:SubscribeResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:SubscriptionId>${subscriptionId}</m:SubscriptionId><m:Watermark>${watermark}</m:Watermark></m:SubscribeResponseMessage></m:ResponseMessages></m:SubscribeResponse>`,
    );
  }

  function getItem(op: XmlElement, mailbox: string, version: string | undefined): PlayedAnswer {
    const shape = child(op, 'ItemShape');
    const [baseShape, additional, ...extra] = shape?.children ?? [];
    if (!shape || baseShape?.localName !== 'BaseShape' || baseShape.text !== 'IdOnly' || (additional && additional.localName !== 'AdditionalProperties') || extra.length > 0) {
      throw new SoapFault('ErrorSchemaValidation', 'ItemShape must hold BaseShape IdOnly, then AdditionalProperties.');
    }
    const fields = new Set<string>();
    let senderSmtp = false;
    for (const path of additional?.children ?? []) {
      if (path.localName === 'FieldURI' && KNOWN_FIELDS.has(path.attributes.get('FieldURI') ?? '')) {
        fields.add(path.attributes.get('FieldURI') as string);
      } else if (path.localName === 'ExtendedFieldURI' && path.attributes.get('PropertyTag')?.toLowerCase() === '0x5d01' && path.attributes.get('PropertyType') === 'String') {
        senderSmtp = true;
      } else {
        throw new SoapFault('ErrorSchemaValidation', 'The request failed schema validation: unknown property path.');
      }
    }
    if (fields.has('item:Preview') && !VERSIONS_WITH_PREVIEW.has(version ?? 'Exchange2007_SP1')) {
      throw new SoapFault('ErrorSchemaValidation', "The 'FieldURI' attribute is invalid - The value 'item:Preview' is invalid according to its datatype.");
    }
    const ids = child(op, 'ItemIds')?.children ?? [];
    if (ids.length !== 1 || ids[0]?.localName !== 'ItemId') throw new SoapFault('ErrorSchemaValidation', 'one ItemId is played');
    const id = ids[0].attributes.get('Id') ?? '';
    const responseMessage = (inner: string, error?: string) =>
      soap(
        `<m:GetItemResponse xmlns:m="${EWS_MESSAGES_NS}" xmlns:t="${EWS_TYPES_NS}"><m:ResponseMessages>` +
          (error
            ? `<m:GetItemResponseMessage ResponseClass="Error"><m:MessageText>${error === 'ErrorInvalidIdMalformed' ? 'Id is malformed.' : 'The specified object was not found in the store.'}</m:MessageText><m:ResponseCode>${error}</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey><m:Items/></m:GetItemResponseMessage>`
            : `<m:GetItemResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:Items>${inner}</m:Items></m:GetItemResponseMessage>`) +
          '</m:ResponseMessages></m:GetItemResponse>',
      );
    if (!/^[A-Za-z0-9+/=]{8,}$/.test(id)) return responseMessage('', 'ErrorInvalidIdMalformed');
    const message = messages.get(id);
    if (!message || message.mailbox.toLowerCase() !== mailbox.toLowerCase()) return responseMessage('', 'ErrorItemNotFound');
    const routingType = message.from.routingType ?? 'SMTP';
    const parts = [`<t:ItemId Id="${escapeXml(id)}" ChangeKey="CQAAABYAAAA"/>`];
    if (fields.has('item:ParentFolderId')) {
      const folderId = message.folder === 'archive' ? 'AAMkArchive=' : (inboxIds.get(mailbox.toLowerCase()) as string);
      parts.push(`<t:ParentFolderId Id="${folderId}" ChangeKey="AQAAAA=="/>`);
    }
    if (fields.has('item:Subject')) parts.push(`<t:Subject>${escapeXml(message.subject)}</t:Subject>`);
    if (fields.has('item:DateTimeReceived')) parts.push(`<t:DateTimeReceived>${message.receivedAt.replace(/\.\d{3}Z$/, 'Z')}</t:DateTimeReceived>`);
    if (senderSmtp) {
      parts.push(
        `<t:ExtendedProperty><t:ExtendedFieldURI PropertyTag="0x5d01" PropertyType="String"/><t:Value>${escapeXml(message.from.smtpAddress ?? message.from.address)}</t:Value></t:ExtendedProperty>`,
      );
    }
    if (fields.has('item:Preview')) parts.push(`<t:Preview>${escapeXml(message.preview)}</t:Preview>`);
    if (fields.has('message:From')) {
      parts.push(
        `<t:From><t:Mailbox><t:Name>${escapeXml(message.from.name)}</t:Name><t:EmailAddress>${escapeXml(message.from.address)}</t:EmailAddress><t:RoutingType>${routingType}</t:RoutingType><t:MailboxType>${routingType === 'EX' ? 'Mailbox' : 'OneOff'}</t:MailboxType></t:Mailbox></t:From>`,
      );
    }
    return responseMessage(`<t:Message>${parts.join('')}</t:Message>`);
  }

  function getFolder(op: XmlElement, mailbox: string): PlayedAnswer {
    const folderId = child(op, 'FolderIds')?.children[0];
    if (folderId?.localName !== 'DistinguishedFolderId' || folderId.attributes.get('Id') !== 'inbox') throw new SoapFault('ErrorInvalidRequest', 'only the inbox is played');
    return soap(
      `<m:GetFolderResponse xmlns:m="${EWS_MESSAGES_NS}" xmlns:t="${EWS_TYPES_NS}"><m:ResponseMessages><m:GetFolderResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:Folders><t:Folder><t:FolderId Id="${inboxIds.get(mailbox.toLowerCase())}" ChangeKey="AQAAAA=="/></t:Folder></m:Folders></m:GetFolderResponseMessage></m:ResponseMessages></m:GetFolderResponse>`,
    );
  }

  const http = await startPlayedHttpServer(handle);
  return {
    url: `${http.baseUrl}${EWS_PATH}`,
    requests: http.requests,
    queueFaults: http.queueFaults,
    clearFaults: http.clearFaults,
    setDown: http.setDown,
    close: http.close,
    addMessage: (message) => messages.set(message.itemId, message),
    newItemId: () => `AAMkAD${randomBytes(48).toString('base64').replace(/[+/]/g, 'A')}`,
    setImpersonationAllowed: (allowed) => {
      impersonationAllowed = allowed;
    },
    queueServerBusy: (backOffMs, times = 1) => {
      for (let i = 0; i < times; i++) {
        const answer = fault(new SoapFault('ErrorServerBusy', 'The server cannot service this request right now. Try again later.', backOffMs));
        http.queueFaults({ kind: 'answer', status: answer.status, body: answer.body ?? '', headers: answer.headers ?? {} });
      }
    },
    operations: () => [...seen],
    pushSubscriptions: () => pushSubscriptions.map((subscription) => ({ ...subscription })),
  };
}

/**
 * Exchange's side of NTLM (MS-NLMP), per connection: a NEGOTIATE gets a 401 with a fresh CHALLENGE (target info with
 * the NetBIOS domain and a timestamp), an AUTHENTICATE must answer that very challenge with the account's NTLMv2
 * proof, and then the connection is authenticated. Anything else is a 401 offering NTLM.
 */
function playedNtlm(options: Pick<PlayedEwsOptions, 'username' | 'password' | 'ntlm'>) {
  const challenges = new Map<number, Buffer>();
  const authenticated = new Set<number>();
  const account = ntlmIdentity(options.username);
  const negotiateOnly = options.ntlm?.providers === 'negotiate-only';
  const scheme = negotiateOnly ? 'Negotiate' : '(?:NTLM|Negotiate)';
  // IIS's 401 page: a body the client must read before the connection can carry the next message.
  const page = '<!DOCTYPE html><html><head><title>401 - Unauthorized: Access is denied due to invalid credentials.</title></head><body>' + ' '.repeat(1200) + '</body></html>';
  const offer: PlayedAnswer = { status: 401, headers: { 'www-authenticate': negotiateOnly ? 'Negotiate' : 'Negotiate, NTLM', 'content-type': 'text/html' }, body: page };
  const challengeMessage = (serverChallenge: Buffer): string => {
    const domain = Buffer.from(account.domain.toUpperCase() || 'CONTOSO', 'utf16le');
    const timestamp = Buffer.alloc(8);
    timestamp.writeBigUInt64LE((BigInt(Date.now()) + 11_644_473_600_000n) * 10_000n);
    const targetInfo = Buffer.concat([
      Buffer.from([0x02, 0x00, domain.byteLength, 0x00]), domain,
      Buffer.from([0x07, 0x00, 0x08, 0x00]), timestamp,
      Buffer.alloc(4),
    ]);
    return writeNtlmChallenge({ flags: 0xe28a8215, serverChallenge, targetInfo });
  };
  return {
    /** Undefined when the request may go on; else the 401 to answer. */
    check(request: PlayedRequest): PlayedAnswer | undefined {
      if (authenticated.has(request.connection)) return undefined;
      const token = new RegExp(`^${scheme} ([A-Za-z0-9+/]+=*)$`).exec(request.headers.authorization ?? '')?.[1];
      if (!token) return offer;
      const message = Buffer.from(token, 'base64');
      const type = message.byteLength >= 12 ? message.readUInt32LE(8) : 0;
      if (type === 1) {
        const serverChallenge = randomBytes(8);
        challenges.set(request.connection, serverChallenge);
        const used = /^Negotiate /.test(request.headers.authorization ?? '') ? 'Negotiate' : 'NTLM';
        return {
          status: 401,
          headers: { 'www-authenticate': `${used} ${challengeMessage(serverChallenge)}`, 'content-type': 'text/html', ...(options.ntlm?.closeAfterChallenge ? { connection: 'close' } : {}) },
          body: page,
        };
      }
      const serverChallenge = challenges.get(request.connection);
      challenges.delete(request.connection);
      const answer = type === 3 ? readNtlmAuthenticate(token) : undefined;
      if (!serverChallenge || !answer) return offer;
      const sameAccount = answer.user.toLowerCase() === account.user.toLowerCase() && answer.domain.toLowerCase() === account.domain.toLowerCase();
      if (!sameAccount || !verifyNtlmv2Response({ ...answer, password: options.password, serverChallenge })) return offer;
      authenticated.add(request.connection);
      return undefined;
    },
  };
}
