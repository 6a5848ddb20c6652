import { GraphValidationTokenError } from './graph-errors.js';

/**
 * The validation handshake (GRAPH change-notifications-delivery-notificationurl-validation): Graph POSTs to the
 * notification (and lifecycle) URL with `?validationToken=<token>` and expects, within 10 seconds, `200` with the
 * decoded token as a plain-text body. Only then does it create the subscription.
 */

/** Longest token echoed (contract section 7); Graph's are a few hundred characters. */
export const MAX_VALIDATION_TOKEN_LENGTH = 1_024;

/** Headers of the echo: plain text that no browser may sniff into HTML, since the body is caller-chosen text. */
export const VALIDATION_RESPONSE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/plain; charset=utf-8',
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
};

const PARAMETER = 'validationToken';
/** C0 controls, DEL and C1 controls. */
const CONTROL_CHARACTER = /\p{Cc}/u;

/**
 * The `validationToken` of a raw query string (without the `?`), decoded as a form-encoded value: `%XX` escapes, and
 * `+` is a space, as Graph sends it. Undefined when the query has no such parameter (not a validation request).
 * The first occurrence counts when the parameter is repeated.
 *
 * @throws GraphValidationTokenError when the value is empty, badly escaped (or not UTF-8), over
 * {@link MAX_VALIDATION_TOKEN_LENGTH} characters, or holds a control character.
 */
export function validationTokenOf(rawQuery: string | undefined): string | undefined {
  if (!rawQuery) return undefined;
  for (const pair of rawQuery.split('&')) {
    const separator = pair.indexOf('=');
    const name = separator === -1 ? pair : pair.slice(0, separator);
    if (decodeFormValue(name, () => undefined) !== PARAMETER) continue;
    const raw = separator === -1 ? '' : pair.slice(separator + 1);
    // Escapes take at most 12 bytes per character (a 4-byte UTF-8 sequence): a longer raw value cannot decode short enough.
    if (raw.length > MAX_VALIDATION_TOKEN_LENGTH * 12) throw new GraphValidationTokenError(`the validationToken is longer than ${MAX_VALIDATION_TOKEN_LENGTH} characters`);
    const token = decodeFormValue(raw, (error) => {
      throw new GraphValidationTokenError('the validationToken is not a correctly escaped UTF-8 value', { cause: error });
    });
    if (token === undefined || token.length === 0) throw new GraphValidationTokenError('the validationToken is empty');
    if ([...token].length > MAX_VALIDATION_TOKEN_LENGTH) {
      throw new GraphValidationTokenError(`the validationToken is longer than ${MAX_VALIDATION_TOKEN_LENGTH} characters`);
    }
    if (CONTROL_CHARACTER.test(token)) throw new GraphValidationTokenError('the validationToken holds a control character');
    return token;
  }
  return undefined;
}

function decodeFormValue(raw: string, onError: (error: unknown) => undefined): string | undefined {
  try {
    return decodeURIComponent(raw.replaceAll('+', ' '));
  } catch (error) {
    return onError(error);
  }
}
