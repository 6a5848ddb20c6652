import { EwsBodyTooLargeError, EwsDoctypeError, EwsMalformedError } from './ews-errors.js';

/**
 * Reading untrusted XML (EWS bodies arrive from the internet, unauthenticated) into a small namespace-resolved tree.
 *
 * Order of checks, each cheaper than the next and each before anything that could be abused:
 * size → DOCTYPE/ENTITY → strict UTF-8 → XML characters → XML declaration → markup declarations, processing
 * instructions, markup count, comments → one pass that checks well-formedness while it builds the tree (names, quoting,
 * nesting, depth, namespaces, entity decoding, attribute limits). The reader is the project's own, about 3 KiB: EWS
 * needs elements, attributes, text, CDATA and comments, and a general XML parser with its validator added about 60 KiB
 * to each bundle that reads EWS (issue 15) and to the device-side client.
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
 * bodies made of tens of thousands of tiny elements before the reader sees them.
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
    return new DocumentReader(content).read();
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
 * A comment may not hold "--" or end in "-" (XML 1.0, production 15). CDATA
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
      if (cdataEnd === -1) return; // the reader refuses an unclosed section
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

/** XML 1.0 production 5 (Name): a NameStartChar, then NameChars. */
const NAME_START = ':A-Z_a-z\\u00C0-\\u00D6\\u00D8-\\u00F6\\u00F8-\\u02FF\\u0370-\\u037D\\u037F-\\u1FFF\\u200C\\u200D\\u2070-\\u218F\\u2C00-\\u2FEF\\u3001-\\uD7FF\\uF900-\\uFDCF\\uFDF0-\\uFFFD\\u{10000}-\\u{EFFFF}';
const XML_NAME = new RegExp(`^[${NAME_START}][${NAME_START}\\-.0-9\\u00B7\\u0300-\\u036F\\u203F\\u2040]*$`, 'u');
/** Only XML's own whitespace (production 3) may stand between the parts of a tag, or outside the root element. */
const XML_WHITESPACE_ONLY = /^[ \t\r\n]*$/;

function isXmlWhitespace(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d;
}

/** What the reader refuses: the message says "not well-formed", then what. */
function notWellFormed(what: string): EwsMalformedError {
  return new EwsMalformedError(`the body is not well-formed XML: ${what}`);
}

/** An element whose end tag has not been read yet. */
interface OpenElement {
  readonly qname: string;
  readonly scope: Scope;
  readonly namespace: string | undefined;
  readonly localName: string;
  readonly attributes: ReadonlyMap<string, string>;
  readonly children: XmlElement[];
  text: string;
}

/**
 * One left-to-right pass over a document that has passed the checks above (no DOCTYPE, no processing instruction, no
 * other markup declaration, comments well-formed): start and end tags, attributes, character data, CDATA sections and
 * comments. Anything else is refused. Every search moves forward, so the cost is linear in the body.
 *
 * Character data is kept as EWS readers expect it: each run between two element boundaries (or a CDATA section) is
 * trimmed, entity-decoded and appended to its element's text, a comment does not end a run, CDATA is kept as written,
 * and attribute values are trimmed before decoding.
 */
class DocumentReader {
  private at = 0;
  private readonly open: OpenElement[] = [];
  private root: XmlElement | undefined;
  /** Character data since the last element boundary or CDATA section. */
  private pendingText = '';

  constructor(private readonly xml: string) {}

  read(): XmlElement {
    const xml = this.xml;
    while (this.at < xml.length) {
      const lt = xml.indexOf('<', this.at);
      const end = lt === -1 ? xml.length : lt;
      this.pendingText += xml.slice(this.at, end);
      this.at = end;
      if (lt === -1) break;
      if (xml.startsWith('<!--', lt)) this.skipComment();
      else if (xml.startsWith('<![CDATA[', lt)) this.readCdata();
      else if (xml.charCodeAt(lt + 1) === 0x2f) this.readEndTag();
      else this.readStartTag();
    }
    if (this.open.length > 0) throw notWellFormed('an element is not closed');
    this.flushText();
    if (this.root === undefined) throw notWellFormed('the body holds no element');
    return this.root;
  }

  private flushText(): void {
    const raw = this.pendingText;
    this.pendingText = '';
    const current = this.open.at(-1);
    if (current === undefined) {
      if (!XML_WHITESPACE_ONLY.test(raw)) throw notWellFormed('text outside the root element');
      return;
    }
    const text = raw.trim();
    if (text === '') return;
    // Character data may not hold "]]>" outside a CDATA section (XML 1.0, production 14).
    if (text.includes(']]>')) throw notWellFormed('character data holds "]]>"');
    current.text += decodeCharacterData(text);
  }

  private skipComment(): void {
    const end = this.xml.indexOf('-->', this.at + 4);
    if (end === -1) throw notWellFormed('a comment is not closed');
    this.at = end + 3;
  }

  private readCdata(): void {
    const start = this.at + 9;
    const end = this.xml.indexOf(']]>', start);
    if (end === -1) throw notWellFormed('a CDATA section is not closed');
    this.flushText();
    const current = this.open.at(-1);
    if (current === undefined) throw notWellFormed('a CDATA section outside the root element');
    // CDATA content is literal: no entity decoding, no trimming.
    current.text += this.xml.slice(start, end);
    this.at = end + 3;
  }

  private readEndTag(): void {
    const nameStart = this.at + 2;
    const nameEnd = this.nameEnd(nameStart);
    const qname = this.xml.slice(nameStart, nameEnd);
    const close = this.skipWhitespace(nameEnd);
    if (this.xml.charCodeAt(close) !== 0x3e) throw notWellFormed('an end tag is not closed');
    this.flushText();
    const element = this.open.pop();
    if (element === undefined || element.qname !== qname) throw notWellFormed('an end tag does not match its start tag');
    this.close(element);
    this.at = close + 1;
  }

  private readStartTag(): void {
    this.flushText();
    if (this.open.length === 0 && this.root !== undefined) {
      throw notWellFormed('the body must hold exactly one root element');
    }
    const xml = this.xml;
    const nameStart = this.at + 1;
    const nameEnd = this.nameEnd(nameStart);
    const qname = xml.slice(nameStart, nameEnd);
    if (!XML_NAME.test(qname)) throw notWellFormed('an element name is invalid');

    const rawAttributes: Array<[string, string]> = [];
    const seen = new Set<string>();
    let at = nameEnd;
    let selfClosing = false;
    for (;;) {
      const next = this.skipWhitespace(at);
      const code = xml.charCodeAt(next);
      if (code === 0x3e) {
        at = next + 1;
        break;
      }
      if (code === 0x2f) {
        if (xml.charCodeAt(next + 1) !== 0x3e) throw notWellFormed('a start tag is not closed');
        selfClosing = true;
        at = next + 2;
        break;
      }
      if (Number.isNaN(code)) throw notWellFormed('a start tag is not closed');
      if (next === at) throw notWellFormed('attributes must be separated by whitespace');
      const attributeEnd = this.nameEnd(next, true);
      const name = xml.slice(next, attributeEnd);
      if (!XML_NAME.test(name)) throw notWellFormed('an attribute name is invalid');
      const equals = this.skipWhitespace(attributeEnd);
      if (xml.charCodeAt(equals) !== 0x3d) throw notWellFormed('an attribute has no value');
      const open = this.skipWhitespace(equals + 1);
      const quote = xml.charAt(open);
      if (quote !== '"' && quote !== "'") throw notWellFormed('an attribute value is not quoted');
      const close = xml.indexOf(quote, open + 1);
      if (close === -1) throw notWellFormed('an attribute value is not closed');
      if (seen.has(name)) throw notWellFormed('an attribute appears twice');
      seen.add(name);
      rawAttributes.push([name, xml.slice(open + 1, close)]);
      at = close + 1;
    }
    this.at = at;

    const element = this.openElement(qname, rawAttributes);
    if (selfClosing) this.close(element);
    else this.open.push(element);
  }

  /** Resolves an element's names against the namespace declarations in force, its own included. */
  private openElement(qname: string, rawAttributes: ReadonlyArray<[string, string]>): OpenElement {
    if (this.open.length + 1 > MAX_XML_DEPTH) throw new EwsMalformedError('elements are nested too deeply');
    const parentScope = this.open.at(-1)?.scope ?? ROOT_SCOPE;
    const declarations = new Map<string, string>();
    const attributes = new Map<string, string>();
    const prefixedAttributes: string[] = [];
    for (const [name, untrimmed] of rawAttributes) {
      const raw = untrimmed.trim();
      if (raw.length > MAX_ATTRIBUTE_LENGTH) throw new EwsMalformedError('an attribute value is too long');
      if (raw.includes('<')) throw new EwsMalformedError('an attribute value holds "<"');
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

    refuseReservedName(qname, 'an element name is reserved');
    const { prefix, localName } = splitQName(qname);
    // `xmlns=""` undeclares the default namespace, hence the empty string mapping to "no namespace".
    const namespace = prefix === undefined ? lookup(scope, '') || undefined : resolvePrefix(scope, prefix);
    return { qname, scope, namespace, localName, attributes, children: [], text: '' };
  }

  private close(element: OpenElement): void {
    const done: XmlElement = {
      namespace: element.namespace,
      localName: element.localName,
      attributes: element.attributes,
      children: element.children,
      text: element.text,
    };
    const parent = this.open.at(-1);
    if (parent !== undefined) parent.children.push(done);
    else this.root = done;
  }

  /** Where a name starting at `from` ends: at whitespace, `>` or `/` (and `=` for an attribute name). */
  private nameEnd(from: number, attribute = false): number {
    let at = from;
    for (; at < this.xml.length; at++) {
      const code = this.xml.charCodeAt(at);
      if (isXmlWhitespace(code) || code === 0x3e || code === 0x2f || (attribute && code === 0x3d)) break;
    }
    return at;
  }

  private skipWhitespace(from: number): number {
    let at = from;
    while (at < this.xml.length && isXmlWhitespace(this.xml.charCodeAt(at))) at++;
    return at;
  }
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
