import { request as httpRequest, type Agent, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { MailServerError } from '../../../shared/org/ports.js';
import { classifyAddress, guardedLookup, RefusedAddressError, type OutboundPolicy } from '../outbound-address-policy.js';

/**
 * The one HTTP client for requests to organizations' mail servers (EWS, Graph, the Microsoft identity platform).
 * Every request: goes only where the outbound policy allows (checked on the address actually connected to), ends at
 * its deadline, and stops reading an answer larger than `maxBodyBytes` (a mail server answering 10 MB is not
 * answering a GetItem). Failures are MailServerErrors; their `detail` never holds the URL, a header or the body.
 */
export interface MailServerHttpRequest {
  url: string;
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
  maxBodyBytes: number;
  policy: OutboundPolicy;
  /**
   * A keep-alive agent of one socket, for a handshake whose requests must share a connection (NTLM). Its socket is
   * made by the same guarded lookup. Absent: a connection of this request's own.
   */
  agent?: Agent;
}

export interface MailServerHttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** Whether the request went on a socket an earlier request had used (with `agent`: a handshake kept its connection). */
  reusedSocket: boolean;
}

/** Largest answer read from a mail server: a GetItem of one message or a Graph message with $select is a few KB. */
export const MAX_MAIL_SERVER_ANSWER_BYTES = 256 * 1024;

export function sendMailServerRequest(input: MailServerHttpRequest): Promise<MailServerHttpAnswer> {
  const url = new URL(input.url);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) !== 0) {
    const addressClass = classifyAddress(host);
    if (!(addressClass === 'public' || (addressClass === 'loopback' && input.policy.allowLoopback))) {
      return Promise.reject(new MailServerError('address-refused', 'policy'));
    }
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && input.policy.allowLoopback)) {
    return Promise.reject(new MailServerError('address-refused', 'https-required'));
  }
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (error: MailServerError | undefined, answer?: MailServerHttpAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) reject(error);
      else resolve(answer as MailServerHttpAnswer);
    };
    const body = input.body === undefined ? undefined : Buffer.from(input.body, 'utf8');
    const req = send(
      url,
      {
        method: input.method,
        headers: { ...input.headers, ...(body ? { 'content-length': String(body.byteLength) } : {}) },
        lookup: guardedLookup(input.policy),
        // One connection per request (or per handshake): a pooled socket would have been checked against an earlier lookup.
        agent: input.agent ?? false,
      },
      (res) => {
        const declared = Number(res.headers['content-length'] ?? '0');
        if (declared > input.maxBodyBytes) {
          res.destroy();
          finish(new MailServerError('response-too-large', `${res.statusCode ?? 0}`));
          return;
        }
        const chunks: Buffer[] = [];
        let received = 0;
        res.on('data', (chunk: Buffer) => {
          received += chunk.byteLength;
          if (received > input.maxBodyBytes) {
            res.destroy();
            finish(new MailServerError('response-too-large', `${res.statusCode ?? 0}`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => finish(undefined, { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), reusedSocket: req.reusedSocket }));
        res.on('error', (error) => finish(new MailServerError('unreachable', 'answer-interrupted', { cause: error })));
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      finish(new MailServerError('timeout', `${input.timeoutMs}ms`));
    }, Math.max(1, input.timeoutMs));
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (error instanceof RefusedAddressError || error.code === 'EADDRREFUSED_BY_POLICY') {
        finish(new MailServerError('address-refused', 'policy', { cause: error }));
      } else {
        finish(new MailServerError('unreachable', error.code ?? 'connection-error', { cause: error }));
      }
    });
    req.end(body);
  });
}

/** Seconds (or an HTTP date) of a Retry-After header, in ms; undefined when absent or unreadable. */
export function retryAfterMs(headers: IncomingHttpHeaders, now: number = Date.now()): number | undefined {
  const value = headers['retry-after'];
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
