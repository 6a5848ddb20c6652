import { BodyTooLargeError, RelayError } from '../errors.js';

/**
 * Typed errors of the Graph protocol module. The readers throw nothing else: any unexpected failure while reading is
 * wrapped in {@link GraphMalformedError} with the original as `cause`. Messages never quote values from the body.
 */

/** The body is larger than the notification endpoints accept (contract: 262,144 bytes). Maps to 413. */
export class GraphBodyTooLargeError extends BodyTooLargeError {
  readonly code = 'graph_body_too_large';
}

/**
 * The body is not a Graph notification collection: not UTF-8 JSON, nested too deeply, no `value` array, too many
 * items, or not one well-formed item. Maps to 400.
 */
export class GraphMalformedError extends RelayError {
  readonly code = 'graph_malformed';
}

/** A `validationToken` that is missing, too long, badly escaped or holds control characters. Maps to 400. */
export class GraphValidationTokenError extends RelayError {
  readonly code = 'graph_invalid_validation_token';
}

/** An argument given to one of the Graph request builders is out of range or unsafe to send. A programming error. */
export class GraphArgumentError extends RelayError {
  readonly code = 'graph_invalid_argument';
}
