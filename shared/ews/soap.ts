import { EwsArgumentError, EwsMalformedError } from './ews-errors.js';
import { FORBIDDEN_CHARACTER, type XmlElement } from './safe-xml.js';

/** SOAP 1.1 envelope namespace; EWS speaks SOAP 1.1 only. */
export const SOAP_ENVELOPE_NS = 'http://schemas.xmlsoap.org/soap/envelope/';
/** EWS messages namespace (conventional prefix `m:`). */
export const EWS_MESSAGES_NS = 'http://schemas.microsoft.com/exchange/services/2006/messages';
/** EWS types namespace (conventional prefix `t:`). */
export const EWS_TYPES_NS = 'http://schemas.microsoft.com/exchange/services/2006/types';

/**
 * The single element inside `soap:Envelope/soap:Body`. Envelope, Header and Body are matched on namespace as well as
 * local name: the SOAP 1.1 framing is what makes a body an EWS message. Another root, a missing or repeated Body, or
 * anything but one Header and one Body in the envelope is malformed.
 */
export function soapBodyContent(root: XmlElement): XmlElement {
  if (root.localName !== 'Envelope' || root.namespace !== SOAP_ENVELOPE_NS) {
    throw new EwsMalformedError('the body is not a SOAP 1.1 envelope');
  }
  const isSoap = (child: XmlElement, localName: string) => child.namespace === SOAP_ENVELOPE_NS && child.localName === localName;
  const bodies = root.children.filter((child) => isSoap(child, 'Body'));
  const headers = root.children.filter((child) => isSoap(child, 'Header'));
  const [body] = bodies;
  if (body === undefined || bodies.length > 1 || headers.length > 1 || bodies.length + headers.length !== root.children.length) {
    throw new EwsMalformedError('the SOAP envelope must hold one Body and at most one Header');
  }
  const [content, ...rest] = body.children;
  if (content === undefined || rest.length > 0) throw new EwsMalformedError('the SOAP Body must hold exactly one element');
  return content;
}

/** The SOAP Body's single element, checked to be `operation` in the EWS messages namespace. */
export function soapOperation(root: XmlElement, operation: string): XmlElement {
  const content = soapBodyContent(root);
  if (content.localName !== operation || content.namespace !== EWS_MESSAGES_NS) {
    throw new EwsMalformedError(`the SOAP Body does not hold a ${operation}`);
  }
  return content;
}

// EWS elements below the operation are matched on local name only: `Notification` is documented in the types namespace
// but sent in the messages namespace, and prefixes or default namespaces vary between servers.

/** All children with this local name, in document order. */
export function childrenNamed(parent: XmlElement, localName: string): XmlElement[] {
  return parent.children.filter((child) => child.localName === localName);
}

/** The child with this local name, if any; more than one is malformed. */
export function optionalChild(parent: XmlElement, localName: string): XmlElement | undefined {
  const [first, ...rest] = childrenNamed(parent, localName);
  if (rest.length > 0) throw new EwsMalformedError(`${parent.localName} holds more than one ${localName}`);
  return first;
}

/** The one child with this local name; missing or repeated is malformed. */
export function requiredChild(parent: XmlElement, localName: string): XmlElement {
  const child = optionalChild(parent, localName);
  if (child === undefined) throw new EwsMalformedError(`${parent.localName} has no ${localName}`);
  return child;
}

/** Trimmed text of an optional child; an empty element counts as absent. */
export function optionalText(parent: XmlElement, localName: string): string | undefined {
  const text = optionalChild(parent, localName)?.text.trim();
  return text === undefined || text === '' ? undefined : text;
}

/** Trimmed, non-empty text of a required child. */
export function requiredText(parent: XmlElement, localName: string): string {
  const text = optionalText(parent, localName);
  if (text === undefined) throw new EwsMalformedError(`${parent.localName} has no ${localName}`);
  return text;
}

const XML_ESCAPES = new Map([
  ['&', '&amp;'],
  ['<', '&lt;'],
  ['>', '&gt;'],
  ['"', '&quot;'],
  ["'", '&apos;'],
]);

/**
 * Escapes text for element content or a quoted attribute value.
 * @throws EwsArgumentError for characters that XML cannot carry at all (controls other than tab/CR/LF, lone surrogates).
 */
export function escapeXml(value: string): string {
  if (FORBIDDEN_CHARACTER.test(value)) {
    throw new EwsArgumentError('a value holds characters XML cannot carry');
  }
  return value.replace(/[&<>"']/g, (c) => XML_ESCAPES.get(c) ?? c);
}
