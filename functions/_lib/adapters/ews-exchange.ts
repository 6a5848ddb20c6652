import { EwsBodyTooLargeError } from '../../../shared/ews/ews-errors.js';
import type { MailServerSettings } from '../../../shared/org/org-schemas.js';
import { MailServerError } from '../../../shared/org/ports.js';
import type { OutboundPolicy } from '../outbound-address-policy.js';
import type { Clock } from './mail-server-budget.js';
import { Agent as HttpAgent, type Agent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { ntlmAuthenticate, ntlmNegotiate, readNtlmChallenge } from '../ntlm.js';
import { MAX_MAIL_SERVER_ANSWER_BYTES, retryAfterMs, sendMailServerRequest, type MailServerHttpAnswer } from './mail-server-http.js';

/** How a request authenticates: a Basic header, or an NTLM handshake on a connection of its own. */
export type EwsCredentials = { scheme: 'basic'; header: string } | { scheme: 'ntlm'; username: string; password: string };

/** The service account's credentials for an EWS server (sent over HTTPS only, as the outbound policy enforces). */
export function ewsAuthorization(server: Extract<MailServerSettings, { type: 'ews' }>, password: string): EwsCredentials {
  if (server.auth === 'ntlm') return { scheme: 'ntlm', username: server.username, password };
  return { scheme: 'basic', header: `Basic ${Buffer.from(`${server.username}:${password}`, 'utf8').toString('base64')}` };
}

/**
 * One SOAP request to an EWS server, the HTTP answer turned into what it means: 401/403/429/503 and other statuses
 * become typed `MailServerError`s (a throttle with its Retry-After), and the body is read by `read` (a too large or
 * malformed answer becomes `response-too-large` / `malformed-response` for `operation`). Shared by every EWS adapter,
 * so each says only what it sends and how it reads the answer.
 */
export async function exchangeWithEws<T>(input: {
  url: string;
  authorization: EwsCredentials;
  /** The mailbox the request is about (`X-AnchorMailbox`, so Exchange routes it to the mailbox's server). */
  anchor?: string;
  body: string;
  timeoutMs: number;
  policy: OutboundPolicy;
  clock: Clock;
  operation: string;
  read: (body: Buffer) => T;
}): Promise<T> {
  const startedAt = input.clock.now();
  const send = (authorization: string, body: string, agent?: Agent) =>
    sendMailServerRequest({
      url: input.url,
      method: 'POST',
      headers: {
        'content-type': 'text/xml; charset=utf-8',
        accept: 'text/xml',
        authorization,
        ...(input.anchor === undefined ? {} : { 'x-anchormailbox': input.anchor }),
      },
      body,
      timeoutMs: Math.max(1, input.timeoutMs - (input.clock.now() - startedAt)),
      maxBodyBytes: MAX_MAIL_SERVER_ANSWER_BYTES,
      policy: input.policy,
      ...(agent ? { agent } : {}),
    });
  const answer = input.authorization.scheme === 'basic' ? await send(input.authorization.header, input.body) : await withNtlm(input.authorization, input.url, input.body, send);
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

/**
 * NTLM is connection-based: the NEGOTIATE (with no body), the server's 401 with its CHALLENGE, and the AUTHENTICATE
 * with the request all go on one kept-alive socket, which is closed after. An IIS whose Windows authentication lists
 * only the Negotiate provider takes the same NTLM tokens under that scheme, so a 401 offering only `Negotiate` is
 * answered with a second handshake under it. What says nothing about the password is not reported as a wrong one:
 * a server that closes the connection between the messages, or answers the NEGOTIATE with anything but a 401.
 */
async function withNtlm(
  credentials: Extract<EwsCredentials, { scheme: 'ntlm' }>,
  url: string,
  body: string,
  send: (authorization: string, body: string, agent?: Agent) => Promise<MailServerHttpAnswer>,
): Promise<MailServerHttpAnswer> {
  const first = await ntlmHandshake('NTLM', credentials, url, body, send);
  if ('answer' in first) return first.answer;
  if (!first.offersNegotiate) return first.offer;
  const second = await ntlmHandshake('Negotiate', credentials, url, body, send);
  return 'answer' in second ? second.answer : second.offer;
}

async function ntlmHandshake(
  scheme: 'NTLM' | 'Negotiate',
  credentials: Extract<EwsCredentials, { scheme: 'ntlm' }>,
  url: string,
  body: string,
  send: (authorization: string, body: string, agent?: Agent) => Promise<MailServerHttpAnswer>,
): Promise<{ answer: MailServerHttpAnswer } | { offer: MailServerHttpAnswer; offersNegotiate: boolean }> {
  const agent = new URL(url).protocol === 'https:' ? new HttpsAgent({ keepAlive: true, maxSockets: 1 }) : new HttpAgent({ keepAlive: true, maxSockets: 1 });
  try {
    const offer = await send(`${scheme} ${ntlmNegotiate()}`, '', agent);
    // A throttle is the server's answer to any request; anything else but a 401 answered an empty POST.
    if (offer.status === 429 || offer.status === 503) return { answer: offer };
    if (offer.status !== 401) throw new MailServerError('server-error', 'ntlm-no-challenge');
    const challenge = readNtlmChallenge(offer.headers['www-authenticate']);
    if (!challenge) return { offer, offersNegotiate: scheme === 'NTLM' && /\bNegotiate\b/i.test(String(offer.headers['www-authenticate'] ?? '')) };
    if (/\bclose\b/i.test(String(offer.headers.connection ?? ''))) throw new MailServerError('server-error', 'ntlm-connection-not-kept');
    const answer = await send(`${scheme} ${ntlmAuthenticate({ username: credentials.username, password: credentials.password, challenge })}`, body, agent);
    // On another connection the AUTHENTICATE answers no challenge, and its 401 would blame the password.
    if (answer.reusedSocket === false) throw new MailServerError('server-error', 'ntlm-connection-not-kept');
    return { answer };
  } finally {
    agent.destroy();
  }
}
