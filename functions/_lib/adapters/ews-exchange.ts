import { EwsBodyTooLargeError } from '../../../shared/ews/ews-errors.js';
import type { MailServerSettings } from '../../../shared/org/org-schemas.js';
import { MailServerError } from '../../../shared/org/ports.js';
import type { OutboundPolicy } from '../outbound-address-policy.js';
import type { Clock } from './mail-server-budget.js';
import { MAX_MAIL_SERVER_ANSWER_BYTES, retryAfterMs, sendMailServerRequest } from './mail-server-http.js';

/** The service account's Basic credentials for an EWS server (sent over HTTPS only, as the outbound policy enforces). */
export function ewsAuthorization(server: Extract<MailServerSettings, { type: 'ews' }>, password: string): string {
  return `Basic ${Buffer.from(`${server.username}:${password}`, 'utf8').toString('base64')}`;
}

/**
 * One SOAP request to an EWS server, the HTTP answer turned into what it means: 401/403/429/503 and other statuses
 * become typed `MailServerError`s (a throttle with its Retry-After), and the body is read by `read` (a too large or
 * malformed answer becomes `response-too-large` / `malformed-response` for `operation`). Shared by every EWS adapter,
 * so each says only what it sends and how it reads the answer.
 */
export async function exchangeWithEws<T>(input: {
  url: string;
  authorization: string;
  /** The mailbox the request is about (`X-AnchorMailbox`, so Exchange routes it to the mailbox's server). */
  anchor?: string;
  body: string;
  timeoutMs: number;
  policy: OutboundPolicy;
  clock: Clock;
  operation: string;
  read: (body: Buffer) => T;
}): Promise<T> {
  const answer = await sendMailServerRequest({
    url: input.url,
    method: 'POST',
    headers: {
      'content-type': 'text/xml; charset=utf-8',
      accept: 'text/xml',
      authorization: input.authorization,
      ...(input.anchor === undefined ? {} : { 'x-anchormailbox': input.anchor }),
    },
    body: input.body,
    timeoutMs: input.timeoutMs,
    maxBodyBytes: MAX_MAIL_SERVER_ANSWER_BYTES,
    policy: input.policy,
  });
  if (answer.status === 401) throw new MailServerError('unauthorized', 'http-401');
  if (answer.status === 403) throw new MailServerError('forbidden', 'http-403');
  if (answer.status === 429 || answer.status === 503) {
    throw new MailServerError('throttled', `http-${answer.status}`, { retryAfterMs: retryAfterMs(answer.headers, input.clock.now()) });
  }
  // EWS answers SOAP faults (impersonation refused, ErrorServerBusy, schema errors) with HTTP 500.
  if (answer.status !== 200 && answer.status !== 500) throw new MailServerError('server-error', `http-${answer.status}`);
  try {
    return input.read(answer.body);
  } catch (error) {
    throw new MailServerError(error instanceof EwsBodyTooLargeError ? 'response-too-large' : 'malformed-response', input.operation, { cause: error });
  }
}
