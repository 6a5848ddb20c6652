import { BodyTooLargeError, RelayError } from '../errors.js';

/**
 * Typed errors of the EWS protocol module. The parsers throw nothing else: any unexpected parser failure is wrapped in
 * {@link EwsMalformedError} with the original as `cause`. Messages never quote values from the document.
 */

/** The body is larger than the callback accepts (contract: 262,144 bytes). Maps to 413. */
export class EwsBodyTooLargeError extends BodyTooLargeError {
  readonly code = 'ews_body_too_large';
}

/** The body carries a DOCTYPE or an ENTITY declaration; refused before any parsing. Maps to 400. */
export class EwsDoctypeError extends RelayError {
  readonly code = 'ews_doctype_refused';
  constructor() {
    super('a document type declaration is not allowed in an EWS message');
  }
}

/**
 * The body is not a well-formed SOAP envelope carrying the expected EWS message (or is hostile: invalid UTF-8, deep
 * nesting, oversized attributes, unknown entities). Maps to 400.
 */
export class EwsMalformedError extends RelayError {
  readonly code = 'ews_malformed';
}

/** An argument given to one of the EWS request builders is out of range or unsafe to send. A programming error. */
export class EwsArgumentError extends RelayError {
  readonly code = 'ews_invalid_argument';
}
