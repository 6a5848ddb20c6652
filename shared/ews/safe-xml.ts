import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { EwsBodyTooLargeError, EwsDoctypeError, EwsMalformedError } from './ews-errors.js';

/**
 * Reading untrusted XML (EWS bodies arrive from the internet, unauthenticated) into a small namespace-resolved tree.
 *
 * Order of checks, each cheaper than the next and each before anything that could be abused:
 * size → DOCTYPE/ENTITY → strict UTF-8 → XML characters → XML declaration → well-formedness (XMLValidator) →
 * parse (fast-xml-parser, entities off, depth-limited) → tree conversion (namespaces, entity decoding, attribute limits).
 * The result uses Maps and arrays only, so no name could reach a prototype; names such as `__proto__` are refused all
 * the same (contract section 4: hostile shapes get 400), as elements, attributes and namespace prefixes alike.
 */

/** Largest body accepted (contract: 256 KiB). */
export const MAX_EWS_BODY_BYTES = 262_144;
/** Deepest element nesting accepted. A SendNotification is 8 levels deep; anything near this limit is hostile. */
export const MAX_XML_DEPTH = 64;
/** Longest attribute value accepted, in UTF-16 code units. EWS ids are a few hundred characters. */
export const MAX_ATTRIBUTE_LENGTH = 4_096;
/**
 * Most `<` a body may hold. A real push needs about a dozen per event and a few hundred per body; the limit stops
 * bodies made of tens of thousands of tiny elements before the (comparatively slow) validator and parser see them.
 */
export const MAX_MARKUP_COUNT = 16_384;
/** Longest XML declaration accepted. */
const MAX_DECLARATION_LENGTH = 256;

const XML_NS = 'http://www.w3.org/XML/1998/namespace';
/** Names that could reach an object's prototype if anything ever used them as keys; never legitimate in EWS. */
const RESERVED_NAMES: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** One element of a parsed document. Attributes hold only unprefixed names; values are entity-decoded. */
export interface XmlElement {
  /** Namespace URI, or undefined for an element in no namespace. */
  readonly namespace: string | undefined;
  readonly localName: string;
  readonly attributes: ReadonlyMap<string, string>;
  readonly children: readonly XmlElement[];
  /** Character data directly inside the element (text and CDATA), trimmed per segment and concatenated. */
  readonly text: string;
}

const parser = new XMLParser({
  // Order matters: events of different types inside one Notification must stay in document order.
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  removeNSPrefix: false,
  allowBooleanAttributes: false,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  cdataPropName: '#cdata',
  commentPropName: false,
  // Entities are decoded below, bounded: only the five predefined ones and character references.
  processEntities: false,
  htmlEntities: false,
  ignoreDeclaration: false,
  ignorePiTags: false,
  maxNestedTags: MAX_XML_DEPTH,
  jPath: false,
});

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

// Characters XML 1.0 forbids anywhere in a document, and unpaired surrogates (possible only in string input).
export const FORBIDDEN_CHARACTER =
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
// `<!` may only open a comment or a CDATA section once DOCTYPE is excluded (no ELEMENT, ATTLIST, NOTATION outside a DTD).
const MARKUP_DECLARATION = /<!(?!--|\[CDATA\[)/;
const DOCTYPE_OR_ENTITY = /<!(?:doctype|entity)/i;
const REFERENCE = /&(?:(amp|lt|gt|quot|apos)|#([0-9]{1,7})|#x([0-9A-Fa-f]{1,6}));/y;
const PREDEFINED_ENTITIES = new Map([
  ['amp', '&'],
  ['lt', '<'],
  ['gt', '>'],
  ['quot', '"'],
  ['apos', "'"],
]);

/**
 * Parses an untrusted XML body into an {@link XmlElement} tree.
 * @throws EwsBodyTooLargeError over {@link MAX_EWS_BODY_BYTES}; EwsDoctypeError for `<!DOCTYPE` or `<!ENTITY`
 *   anywhere; EwsMalformedError for everything else that is not a well-formed, namespace-well-formed document.
 */
export function readXmlDocument(body: Uint8Array | string): XmlElement {
  if (typeof body !== 'string' && !(body instanceof Uint8Array)) {
    throw new EwsMalformedError('the body is neither text nor bytes');
  }
  const byteLength = typeof body === 'string' ? utf8ByteLength(body) : body.byteLength;
  if (byteLength > MAX_EWS_BODY_BYTES) throw new EwsBodyTooLargeError(byteLength, MAX_EWS_BODY_BYTES);
  if (typeof body === 'string' ? DOCTYPE_OR_ENTITY.test(body) : bytesHoldDoctypeOrEntity(body)) {
    throw new EwsDoctypeError();
  }
  return withMalformedGuard(() => {
    const text = decodeText(body);
    if (FORBIDDEN_CHARACTER.test(text)) throw new EwsMalformedError('the body holds characters XML does not allow');
    const content = stripXmlDeclaration(text);
    if (MARKUP_DECLARATION.test(content)) throw new EwsMalformedError('the body holds a markup declaration');
    // EWS never sends processing instructions; refusing them also refuses a misplaced second XML declaration.
    if (content.includes('<?')) throw new EwsMalformedError('the body holds a processing instruction');
    if (countOf(content, '<') > MAX_MARKUP_COUNT) throw new EwsMalformedError('the body holds too many elements');
    checkComments(content);
    const validation = XMLValidator.validate(content, { allowBooleanAttributes: false });
    if (validation !== true) {
      throw new EwsMalformedError('the body is not well-formed XML', { cause: validation.err });
    }
    const nodes: unknown = parser.parse(content);
    return documentElement(nodes);
  });
}

/** Runs `read`, turning any failure that is not already a typed EWS error into {@link EwsMalformedError}. */
export function withMalformedGuard<T>(read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof EwsMalformedError || error instanceof EwsBodyTooLargeError || error instanceof EwsDoctypeError) {
      throw error;
    }
    throw new EwsMalformedError('the body could not be parsed', { cause: error });
  }
}

/**
 * Decodes XML character data: the five predefined entities and character references; any other `&` is an error
 * (without a DTD no other entity can be defined). The output is never longer than the input.
 */
export function decodeCharacterData(raw: string): string {
  let amp = raw.indexOf('&');
  if (amp === -1) return raw;
  let out = '';
  let from = 0;
  while (amp !== -1) {
    REFERENCE.lastIndex = amp;
    const match = REFERENCE.exec(raw);
    if (!match) throw new EwsMalformedError('the body holds an unknown entity or a stray "&"');
    out += raw.slice(from, amp) + resolveReference(match);
    from = REFERENCE.lastIndex;
    amp = raw.indexOf('&', from);
  }
  return out + raw.slice(from);
}

function resolveReference(match: RegExpExecArray): string {
  const [, name, decimal, hex] = match;
  if (name !== undefined) return PREDEFINED_ENTITIES.get(name) ?? '';
  const codePoint = decimal !== undefined ? Number.parseInt(decimal, 10) : Number.parseInt(hex ?? '', 16);
  if (!isXmlCharacter(codePoint)) throw new EwsMalformedError('a character reference names a character XML does not allow');
  return String.fromCodePoint(codePoint);
}

function isXmlCharacter(cp: number): boolean {
  return (
    cp === 0x9 ||
    cp === 0xa ||
    cp === 0xd ||
    (cp >= 0x20 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd) ||
    (cp >= 0x10000 && cp <= 0x10ffff)
  );
}

/** UTF-8 length of a string; an unpaired surrogate counts as the 3 bytes of U+FFFD, as TextEncoder would write it. */
export function utf8ByteLength(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

const DOCTYPE_BYTES = [...'doctype'].map((c) => c.charCodeAt(0));
const ENTITY_BYTES = [...'entity'].map((c) => c.charCodeAt(0));

/** ASCII case-insensitive search for `<!doctype` / `<!entity` in raw bytes, before any decoding. */
function bytesHoldDoctypeOrEntity(bytes: Uint8Array): boolean {
  for (let i = bytes.indexOf(0x3c); i !== -1; i = bytes.indexOf(0x3c, i + 1)) {
    if (bytes[i + 1] !== 0x21) continue;
    if (matchesLowercase(bytes, i + 2, DOCTYPE_BYTES) || matchesLowercase(bytes, i + 2, ENTITY_BYTES)) return true;
  }
  return false;
}

function matchesLowercase(bytes: Uint8Array, at: number, word: readonly number[]): boolean {
  if (at + word.length > bytes.length) return false;
  // `| 0x20` folds only A-Z onto a-z among the bytes that can then equal a lowercase letter.
  return word.every((code, k) => ((bytes[at + k] ?? 0) | 0x20) === code);
}

function countOf(text: string, character: string): number {
  let count = 0;
  for (let i = text.indexOf(character); i !== -1; i = text.indexOf(character, i + 1)) count++;
  return count;
}

function decodeText(body: Uint8Array | string): string {
  if (typeof body === 'string') return body.charCodeAt(0) === 0xfeff ? body.slice(1) : body;
  try {
    // The decoder drops a leading UTF-8 BOM itself.
    return fatalUtf8.decode(body);
  } catch (error) {
    throw new EwsMalformedError('the body is not valid UTF-8', { cause: error });
  }
}

/**
 * Removes the XML declaration after checking it against XML 1.0 (production 23): only at the very start (after a BOM,
 * which decoding removed), `version` first and `1.x`, then optionally `encoding` and `standalone`. Whitespace before
 * it, or a version such as the published WorkMail sample's `"1.0 (http://www.w3.org/TR/REC-xml/)"`, makes the body
 * not well-formed (contract section 4: 400). A declared encoding other than UTF-8 is refused too: the bytes were
 * decoded as UTF-8 and would be misread otherwise.
 */
function stripXmlDeclaration(text: string): string {
  if (!text.startsWith('<?xml') || !/[ \t\r\n?]/.test(text.charAt(5))) return text;
  const end = text.indexOf('?>', 5);
  if (end === -1 || end > MAX_DECLARATION_LENGTH) throw new EwsMalformedError('the XML declaration is not closed');
  const declaration = XML_DECLARATION.exec(text.slice(0, end + 2));
  if (!declaration) throw new EwsMalformedError('the XML declaration is not well-formed');
  const encoding = (declaration[1] ?? declaration[2])?.toLowerCase();
  if (encoding !== undefined && encoding !== 'utf-8' && encoding !== 'utf8') {
    throw new EwsMalformedError('only UTF-8 encoded bodies are accepted');
  }
  return text.slice(end + 2);
}

/** XML 1.0 production 23 (with 24 to 26, 32, 80 and 81): `<?xml version="1.x" encoding="…"? standalone="yes|no"? ?>`. */
const XML_DECLARATION =
  /^<\?xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*(?:"1\.[0-9]+"|'1\.[0-9]+')(?:[ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*(?:"([A-Za-z][A-Za-z0-9._-]*)"|'([A-Za-z][A-Za-z0-9._-]*)'))?(?:[ \t\r\n]+standalone[ \t\r\n]*=[ \t\r\n]*(?:"(?:yes|no)"|'(?:yes|no)'))?[ \t\r\n]*\?>$/;

/**
 * A comment may not hold "--" or end in "-" (XML 1.0, production 15), which XMLValidator does not check. CDATA
 * sections are skipped: "<!--" inside one is text.
 */
function checkComments(content: string): void {
  let from = 0;
  for (;;) {
    const comment = content.indexOf('<!--', from);
    if (comment === -1) return;
    const cdata = content.indexOf('<![CDATA[', from);
    if (cdata !== -1 && cdata < comment) {
      const cdataEnd = content.indexOf(']]>', cdata + 9);
      if (cdataEnd === -1) return; // the validator refuses an unclosed section
      from = cdataEnd + 3;
      continue;
    }
    const end = content.indexOf('-->', comment + 4);
    if (end === -1) return; // the validator refuses an unclosed comment
    const text = content.slice(comment + 4, end);
    if (text.includes('--') || text.endsWith('-')) throw new EwsMalformedError('a comment holds "--"');
    from = end + 3;
  }
}

type FxpNode = Record<string, unknown>;

/**
 * Namespace bindings in force at an element: its own declarations, then its ancestors'. A chain rather than a copied
 * map, so that many declarations cost linear time; lookups walk at most {@link MAX_XML_DEPTH} links.
 */
interface Scope {
  readonly bindings: ReadonlyMap<string, string>;
  readonly parent: Scope | undefined;
}

const ROOT_SCOPE: Scope = { bindings: new Map([['xml', XML_NS]]), parent: undefined };

function lookup(scope: Scope, prefix: string): string | undefined {
  for (let at: Scope | undefined = scope; at !== undefined; at = at.parent) {
    const uri = at.bindings.get(prefix);
    if (uri !== undefined) return uri;
  }
  return undefined;
}

function documentElement(nodes: unknown): XmlElement {
  if (!Array.isArray(nodes)) throw new EwsMalformedError('the body holds no element');
  const elements: XmlElement[] = [];
  for (const node of nodes) {
    const child = convertNode(node, ROOT_SCOPE, 1);
    if (child.kind === 'element') elements.push(child.element);
    else if (child.kind === 'text' && child.text !== '') throw new EwsMalformedError('text outside the root element');
  }
  const [root, ...rest] = elements;
  if (root === undefined || rest.length > 0) throw new EwsMalformedError('the body must hold exactly one root element');
  return root;
}

type Converted = { kind: 'element'; element: XmlElement } | { kind: 'text'; text: string };

function convertNode(node: unknown, scope: Scope, depth: number): Converted {
  if (typeof node !== 'object' || node === null || Array.isArray(node)) throw new EwsMalformedError('unexpected parser output');
  const record = node as FxpNode;
  const keys = Object.keys(record).filter((key) => key !== ':@');
  const [key, ...others] = keys;
  if (key === undefined || others.length > 0) throw new EwsMalformedError('unexpected parser output');
  const value = record[key];
  if (key === '#text') {
    const raw = String(value);
    // Character data may not hold "]]>" outside a CDATA section (XML 1.0, production 14).
    if (raw.includes(']]>')) throw new EwsMalformedError('character data holds "]]>"');
    return { kind: 'text', text: decodeCharacterData(raw) };
  }
  if (key === '#cdata') return { kind: 'text', text: cdataText(value) };
  // Processing instructions were refused before parsing; one showing up here means the two scans disagree.
  if (key.startsWith('?')) throw new EwsMalformedError('the body holds a processing instruction');
  return { kind: 'element', element: convertElement(record, key, value, scope, depth) };
}

function cdataText(value: unknown): string {
  if (!Array.isArray(value)) return '';
  // CDATA content is literal: no entity decoding.
  return value
    .map((part) => (typeof part === 'object' && part !== null && Object.hasOwn(part, '#text') ? String((part as FxpNode)['#text']) : ''))
    .join('');
}

function convertElement(record: FxpNode, qname: string, content: unknown, parentScope: Scope, depth: number): XmlElement {
  if (depth > MAX_XML_DEPTH) throw new EwsMalformedError('elements are nested too deeply');
  if (!Array.isArray(content)) throw new EwsMalformedError('unexpected parser output');

  const declarations = new Map<string, string>();
  const attributes = new Map<string, string>();
  const prefixedAttributes: string[] = [];
  const rawAttributes = Object.hasOwn(record, ':@') ? record[':@'] : undefined;
  if (typeof rawAttributes === 'object' && rawAttributes !== null) {
    for (const key of Object.keys(rawAttributes)) {
      const raw = (rawAttributes as FxpNode)[key];
      if (!key.startsWith('@_') || typeof raw !== 'string') throw new EwsMalformedError('unexpected parser output');
      if (raw.length > MAX_ATTRIBUTE_LENGTH) throw new EwsMalformedError('an attribute value is too long');
      if (raw.includes('<')) throw new EwsMalformedError('an attribute value holds "<"');
      const name = key.slice(2);
      refuseReservedName(name, 'an attribute name is reserved');
      const value = decodeCharacterData(raw);
      if (name === 'xmlns') {
        declarations.set('', value);
      } else if (name.startsWith('xmlns:')) {
        const prefix = name.slice(6);
        if (!isNcName(prefix) || value === '' || prefix === 'xml' || prefix === 'xmlns') {
          throw new EwsMalformedError('a namespace declaration is invalid');
        }
        declarations.set(prefix, value);
      } else if (name.includes(':')) {
        prefixedAttributes.push(name);
      } else {
        attributes.set(name, value);
      }
    }
  }
  const scope: Scope = declarations.size === 0 ? parentScope : { bindings: declarations, parent: parentScope };
  // Prefixed attributes (xsi:type and the like) are not used, but their prefixes must be declared, and two of them may
  // not name the same attribute through two prefixes bound to one namespace.
  const expandedNames = new Set<string>();
  for (const name of prefixedAttributes) {
    const { prefix, localName: attributeName } = splitQName(name);
    const expanded = `${resolvePrefix(scope, prefix)}\u0000${attributeName}`;
    if (expandedNames.has(expanded)) throw new EwsMalformedError('an attribute appears twice under two prefixes');
    expandedNames.add(expanded);
  }

  // fast-xml-parser already refuses these element names unprefixed; refusing them with any prefix keeps the rule here.
  refuseReservedName(qname, 'an element name is reserved');
  const { prefix, localName } = splitQName(qname);
  // `xmlns=""` undeclares the default namespace, hence the empty string mapping to "no namespace".
  const namespace = prefix === undefined ? lookup(scope, '') || undefined : resolvePrefix(scope, prefix);

  const children: XmlElement[] = [];
  let text = '';
  for (const node of content) {
    const child = convertNode(node, scope, depth + 1);
    if (child.kind === 'element') children.push(child.element);
    else if (child.kind === 'text') text += child.text;
  }
  return { namespace, localName, attributes, children, text };
}

/** Refuses a qualified name (`xmlns:p`, `p:name` or `name`) any part of which is in {@link RESERVED_NAMES}. */
function refuseReservedName(qname: string, message: string): void {
  for (const part of qname.split(':')) {
    if (RESERVED_NAMES.has(part)) throw new EwsMalformedError(message);
  }
}

function resolvePrefix(scope: Scope, prefix: string | undefined): string | undefined {
  if (prefix === undefined) return undefined;
  const uri = lookup(scope, prefix);
  if (uri === undefined) throw new EwsMalformedError('a namespace prefix is not declared');
  return uri;
}

function splitQName(qname: string): { prefix: string | undefined; localName: string } {
  const colon = qname.indexOf(':');
  if (colon === -1) {
    if (!isNcName(qname)) throw new EwsMalformedError('an element name is invalid');
    return { prefix: undefined, localName: qname };
  }
  const prefix = qname.slice(0, colon);
  const localName = qname.slice(colon + 1);
  if (!isNcName(prefix) || !isNcName(localName) || prefix === 'xmlns') throw new EwsMalformedError('a qualified name is invalid');
  return { prefix, localName };
}

function isNcName(name: string): boolean {
  return name.length > 0 && !name.includes(':');
}
