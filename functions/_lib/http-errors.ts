import {
  BodyTooLargeError,
  ConcurrentUpdateError,
  DependencyUnavailableError,
  DeviceLimitError,
  DeviceNotFoundError,
  ForbiddenError,
  MailboxExistsError,
  MailboxLimitError,
  MailboxNotFoundError,
  MalformedJsonError,
  MethodNotAllowedError,
  PayloadTooLargeError,
  PrimaryMailboxRemovalError,
  RelayError,
  RelayManagedError,
  RouteNotFoundError,
  UnauthorizedError,
  UnsupportedMediaTypeError,
  ValidationError,
} from '../../shared/errors.js';
import { EwsDoctypeError, EwsMalformedError } from '../../shared/ews/ews-errors.js';
import { GraphMalformedError, GraphValidationTokenError } from '../../shared/graph/graph-errors.js';
import { AddressNotProvenError, AddressRequiredError, MailServerUnavailableError, OrganizationModeOffError, OrgNotFoundError } from '../../shared/org/org-errors.js';

/**
 * The one place that turns typed errors into HTTP answers. 4xx carry the error's own message (written for callers);
 * anything else becomes a 500 whose details stay in the logs.
 */
const statusByError: ReadonlyArray<[abstract new (...args: never[]) => RelayError, number]> = [
  [ValidationError, 400],
  [MalformedJsonError, 400],
  [EwsMalformedError, 400],
  [EwsDoctypeError, 400],
  [GraphMalformedError, 400],
  [GraphValidationTokenError, 400],
  [OrganizationModeOffError, 400],
  [AddressRequiredError, 400],
  [UnauthorizedError, 401],
  [ForbiddenError, 403],
  [AddressNotProvenError, 403],
  [DeviceNotFoundError, 404],
  [MailboxNotFoundError, 404],
  [RouteNotFoundError, 404],
  [OrgNotFoundError, 404],
  [MethodNotAllowedError, 405],
  [MailboxLimitError, 409],
  [DeviceLimitError, 409],
  [MailboxExistsError, 409],
  [RelayManagedError, 409],
  [PrimaryMailboxRemovalError, 409],
  [ConcurrentUpdateError, 409],
  [PayloadTooLargeError, 413],
  [BodyTooLargeError, 413],
  [UnsupportedMediaTypeError, 415],
  [DependencyUnavailableError, 503],
  [MailServerUnavailableError, 503],
];

export interface HttpErrorAnswer {
  statusCode: number;
  code: string;
  message: string;
  /** True when the error is ours (5xx): log it with its stack, never show it. */
  internal: boolean;
}

export function httpAnswerFor(error: unknown): HttpErrorAnswer {
  if (error instanceof RelayError) {
    const match = statusByError.find(([type]) => error instanceof type);
    if (match) {
      const [, statusCode] = match;
      const internal = statusCode >= 500;
      return { statusCode, code: error.code, message: internal ? 'the service is temporarily unavailable, retry later' : error.message, internal };
    }
  }
  return { statusCode: 500, code: 'internal_error', message: 'internal error', internal: true };
}
