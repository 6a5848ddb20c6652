import { GraphBodyTooLargeError, GraphMalformedError } from './graph-errors.js';

/**
 * Reading an untrusted JSON body with the same limits as the EWS callback puts on XML: size first, then strict UTF-8,
 * then nesting depth (checked by a linear scan before `JSON.parse`, so that nothing recursive ever sees a hostile
 * shape), then the parse itself.
 */

/** Largest body a notification endpoint reads (contract section 7: over 256 KiB is 413), as for EWS. */
export const MAX_GRAPH_BODY_BYTES = 262_144;

/**
 * Deepest nesting accepted. A Graph notification is five levels deep (collection, `value`, item, `encryptedContent`
 * or `resourceData`, and a value); anything much deeper is not from Graph.
 */
export const MAX_JSON_DEPTH = 16;

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Parses `body` as JSON after the size, encoding and depth checks. `depth: 'per-item'` leaves the depth to the caller,
 * which checks each item of a collection with {@link nestedDeeperThan} (V8's `JSON.parse` is not recursive, so the
 * parse itself is safe), so that one hostile item beside well-formed ones costs only itself.
 *
 * @throws GraphBodyTooLargeError over {@link MAX_GRAPH_BODY_BYTES}; GraphMalformedError for invalid UTF-8, nesting
 * deeper than {@link MAX_JSON_DEPTH} (unless per item) or invalid JSON. Nothing else.
 */
export function readJsonDocument(body: Uint8Array | string, options: { depth?: 'document' | 'per-item' } = {}): unknown {
  const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
  if (bytes.byteLength > MAX_GRAPH_BODY_BYTES) throw new GraphBodyTooLargeError(bytes.byteLength, MAX_GRAPH_BODY_BYTES);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch (error) {
    throw new GraphMalformedError('the body is not valid UTF-8', { cause: error });
  }
  if (options.depth !== 'per-item') assertDepth(text);
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new GraphMalformedError('the body is not valid JSON', { cause: error });
  }
}

/** Whether a parsed value nests objects or arrays more than `max` levels deep; a walk with its own stack, no recursion. */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: Array<{ node: unknown; depth: number }> = [{ node: value, depth: 1 }];
  while (stack.length > 0) {
    const { node, depth } = stack.pop()!;
    if (typeof node !== 'object' || node === null) continue;
    if (depth > max) return true;
    for (const child of Object.values(node)) stack.push({ node: child, depth: depth + 1 });
  }
  return false;
}

/** Counts brackets outside strings; a malformed document may pass here and then fail in `JSON.parse`. */
function assertDepth(text: string): void {
  let depth = 0;
  let inString = false;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (inString) {
      if (code === BACKSLASH) index++;
      else if (code === QUOTE) inString = false;
    } else if (code === QUOTE) {
      inString = true;
    } else if (code === OPEN_BRACE || code === OPEN_BRACKET) {
      if (++depth > MAX_JSON_DEPTH) throw new GraphMalformedError(`the body is nested deeper than ${MAX_JSON_DEPTH} levels`);
    } else if (code === CLOSE_BRACE || code === CLOSE_BRACKET) {
      depth--;
    }
  }
}
