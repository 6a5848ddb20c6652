import * as z from '../zod.js';
import { EwsArgumentError, EwsMalformedError } from './ews-errors.js';
import { readXmlDocument, withMalformedGuard, type XmlElement } from './safe-xml.js';
import { childrenNamed, escapeXml, EWS_MESSAGES_NS, EWS_TYPES_NS, optionalChild, optionalText, requiredChild, SOAP_ENVELOPE_NS, soapBodyContent } from './soap.js';

/**
 * The EWS requests organization mode sends with its service account (contract section 8), and readers for their
 * answers: GetItem of one new message (sender, subject, preview, receive time), GetItem + GetFolder for a proof of
 * mailbox access, and GetServerTimeZones as the check that needs no mailbox.
 *
 * Requests follow the element order of Exchange's published schema (messages.xsd / types.xsd) and ask for
 * `RequestServerVersion` Exchange2013, the first version that has `item:Preview`. Impersonated requests must also
 * carry the HTTP header `X-AnchorMailbox: <address>`.
 */

export const EWS_REQUEST_SERVER_VERSION = 'Exchange2013';
/** PidTagSenderSmtpAddress: the sender's SMTP address, also for internal senders whose `From` is an X.500 (EX) address. */
export const PID_TAG_SENDER_SMTP_ADDRESS = '0x5D01';
/** The errors namespace EWS uses inside SOAP fault details. */
export const EWS_ERRORS_NS = 'http://schemas.microsoft.com/exchange/services/2006/errors';

const smtpAddressSchema = z.string().check(z.minLength(3), z.maxLength(320), z.regex(/^[^\s@<>"]+@[^\s@<>"]+$/));
const itemIdSchema = z.string().check(z.minLength(1), z.maxLength(1024), z.regex(/^[A-Za-z0-9+/=_-]+$/));

/** Whether `id` has the shape of an EWS ItemId (base64); one that has not names no item on any server. */
export function isEwsItemId(id: string): boolean {
  return itemIdSchema.safeParse(id).success;
}

function envelope(impersonate: string | undefined, body: string): string {
  const impersonation =
    impersonate === undefined
      ? ''
      : `<t:ExchangeImpersonation><t:ConnectingSID><t:SmtpAddress>${escapeXml(impersonate)}</t:SmtpAddress></t:ConnectingSID></t:ExchangeImpersonation>`;
  return (
    '<?xml version="1.0" encoding="utf-8"?>' +
    `<soap:Envelope xmlns:soap="${SOAP_ENVELOPE_NS}" xmlns:t="${EWS_TYPES_NS}" xmlns:m="${EWS_MESSAGES_NS}">` +
    `<soap:Header><t:RequestServerVersion Version="${EWS_REQUEST_SERVER_VERSION}"/>${impersonation}</soap:Header>` +
    `<soap:Body>${body}</soap:Body>` +
    '</soap:Envelope>'
  );
}

function checked(address: string, itemId?: string): void {
  if (!smtpAddressSchema.safeParse(address).success) throw new EwsArgumentError('the mailbox address is not an SMTP address');
  if (itemId !== undefined && !itemIdSchema.safeParse(itemId).success) throw new EwsArgumentError('the item id is not an EWS item id');
}

/** GetItem of one message with exactly the properties section 8 allows: sender, subject, preview, receive time. */
export function buildGetMessageDetailsRequest(input: { impersonate: string; itemId: string }): string {
  checked(input.impersonate, input.itemId);
  return envelope(
    input.impersonate,
    '<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties>' +
      '<t:FieldURI FieldURI="message:From"/>' +
      '<t:FieldURI FieldURI="item:Subject"/>' +
      '<t:FieldURI FieldURI="item:Preview"/>' +
      '<t:FieldURI FieldURI="item:DateTimeReceived"/>' +
      `<t:ExtendedFieldURI PropertyTag="${PID_TAG_SENDER_SMTP_ADDRESS}" PropertyType="String"/>` +
      '</t:AdditionalProperties></m:ItemShape>' +
      `<m:ItemIds><t:ItemId Id="${escapeXml(input.itemId)}"/></m:ItemIds></m:GetItem>`,
  );
}

/** GetItem of one message's receive time and folder: the first half of a proof of mailbox access. */
export function buildGetItemFolderRequest(input: { impersonate: string; itemId: string }): string {
  checked(input.impersonate, input.itemId);
  return envelope(
    input.impersonate,
    '<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties>' +
      '<t:FieldURI FieldURI="item:ParentFolderId"/>' +
      '<t:FieldURI FieldURI="item:DateTimeReceived"/>' +
      '</t:AdditionalProperties></m:ItemShape>' +
      `<m:ItemIds><t:ItemId Id="${escapeXml(input.itemId)}"/></m:ItemIds></m:GetItem>`,
  );
}

/** GetFolder of the impersonated mailbox's inbox (its id): the second half of a proof of mailbox access. */
export function buildGetInboxRequest(input: { impersonate: string }): string {
  checked(input.impersonate);
  return envelope(
    input.impersonate,
    '<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape>' +
      '<m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder>',
  );
}

/** An authenticated request that needs no mailbox and reads nothing personal. */
export function buildCheckRequest(): string {
  return envelope(undefined, '<m:GetServerTimeZones ReturnFullTimeZoneData="false"/>');
}

/** The answer to one EWS operation: its single response message, or Exchange's error code. */
export type EwsOperationResult =
  | { ok: true; message: XmlElement }
  | { ok: false; responseCode: string; /** ErrorServerBusy's BackOffMilliseconds. */ backOffMs?: number };

function backOffOf(container: XmlElement | undefined): number | undefined {
  const messageXml = container && optionalChild(container, 'MessageXml');
  const value = messageXml && childrenNamed(messageXml, 'Value').find((v) => v.attributes.get('Name') === 'BackOffMilliseconds');
  const ms = value ? Number(value.text.trim()) : NaN;
  return Number.isFinite(ms) && ms >= 0 ? ms : undefined;
}

function failure(responseCode: string, backOffMs: number | undefined): EwsOperationResult {
  return backOffMs === undefined ? { ok: false, responseCode } : { ok: false, responseCode, backOffMs };
}

/**
 * Reads the answer to `operation` (GetItem, GetFolder, GetServerTimeZones): a SOAP fault (impersonation refused,
 * schema errors, ErrorServerBusy) or an error response message becomes `ok: false` with the EWS ResponseCode.
 * @throws EwsBodyTooLargeError, EwsDoctypeError, EwsMalformedError (same checks as the callback's parser).
 */
export function readEwsOperationResponse(xml: Uint8Array | string, operation: 'GetItem' | 'GetFolder' | 'GetServerTimeZones'): EwsOperationResult {
  const root = readXmlDocument(xml);
  return withMalformedGuard((): EwsOperationResult => {
    const content = soapBodyContent(root);
    if (content.namespace === SOAP_ENVELOPE_NS && content.localName === 'Fault') {
      const detail = optionalChild(content, 'detail');
      const faultCode = optionalText(content, 'faultcode')?.replace(/^[^:]*:/, '');
      return failure((detail && optionalText(detail, 'ResponseCode')) ?? faultCode ?? 'SoapFault', backOffOf(detail));
    }
    if (content.localName !== `${operation}Response` || content.namespace !== EWS_MESSAGES_NS) {
      throw new EwsMalformedError(`the SOAP Body does not hold a ${operation}Response`);
    }
    const messages = requiredChild(content, 'ResponseMessages').children;
    const [message] = messages;
    if (message === undefined || messages.length !== 1 || message.localName !== `${operation}ResponseMessage`) {
      throw new EwsMalformedError(`expected one ${operation}ResponseMessage`);
    }
    const responseClass = message.attributes.get('ResponseClass');
    if (responseClass !== 'Success') {
      return failure(optionalText(message, 'ResponseCode') ?? 'ErrorInternalServerError', backOffOf(message));
    }
    return { ok: true, message };
  });
}

/** The one item of a successful GetItem answer (a Message, or a MeetingRequest and the like). */
function onlyItem(message: XmlElement): XmlElement {
  const items = requiredChild(message, 'Items').children;
  const [item] = items;
  if (item === undefined || items.length !== 1) throw new EwsMalformedError('expected exactly one item');
  return item;
}

export interface EwsMessageDetails {
  from: { name: string; address: string };
  subject: string;
  preview: string;
  receivedAt: string;
}

/**
 * The details of a successful GetItem answer. The sender's address is the SMTP one: `From/Mailbox/EmailAddress` when
 * its RoutingType is SMTP, else PidTagSenderSmtpAddress (internal senders come back as `EX`, an X.500 address that
 * means nothing on a phone and would never match a VIP).
 */
export function readMessageDetails(message: XmlElement): EwsMessageDetails {
  return withMalformedGuard(() => {
    const item = onlyItem(message);
    const mailbox = optionalChild(item, 'From') && optionalChild(requiredChild(item, 'From'), 'Mailbox');
    const routingType = (mailbox && optionalText(mailbox, 'RoutingType'))?.toUpperCase();
    const fromAddress = mailbox && optionalText(mailbox, 'EmailAddress');
    const senderSmtp = childrenNamed(item, 'ExtendedProperty')
      .find((property) => {
        const uri = optionalChild(property, 'ExtendedFieldURI');
        return uri?.attributes.get('PropertyTag')?.toLowerCase() === PID_TAG_SENDER_SMTP_ADDRESS.toLowerCase();
      })
      ?.children.find((child) => child.localName === 'Value')
      ?.text.trim();
    const address = (routingType === undefined || routingType === 'SMTP') && fromAddress ? fromAddress : (senderSmtp ?? '');
    const receivedAt = optionalText(item, 'DateTimeReceived');
    if (receivedAt === undefined || Number.isNaN(Date.parse(receivedAt))) throw new EwsMalformedError('the item has no DateTimeReceived');
    return {
      from: { name: (mailbox && optionalText(mailbox, 'Name')) ?? '', address },
      subject: optionalChild(item, 'Subject')?.text ?? '',
      preview: optionalChild(item, 'Preview')?.text ?? '',
      receivedAt: new Date(receivedAt).toISOString(),
    };
  });
}

/** The folder id and receive time of a successful GetItem answer to {@link buildGetItemFolderRequest}. */
export function readItemFolder(message: XmlElement): { parentFolderId: string; receivedAt: string } {
  return withMalformedGuard(() => {
    const item = onlyItem(message);
    const parentFolderId = requiredChild(item, 'ParentFolderId').attributes.get('Id');
    const receivedAt = optionalText(item, 'DateTimeReceived');
    if (!parentFolderId || receivedAt === undefined || Number.isNaN(Date.parse(receivedAt))) {
      throw new EwsMalformedError('the item has no ParentFolderId or DateTimeReceived');
    }
    return { parentFolderId, receivedAt: new Date(receivedAt).toISOString() };
  });
}

/** The folder id of a successful GetFolder answer. */
export function readFolderId(message: XmlElement): string {
  return withMalformedGuard(() => {
    const folders = requiredChild(message, 'Folders').children;
    const id = folders[0] && optionalChild(folders[0], 'FolderId')?.attributes.get('Id');
    if (!id || folders.length !== 1) throw new EwsMalformedError('expected one folder with an id');
    return id;
  });
}
