import http2, {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type SecureClientSessionOptions,
} from 'node:http2';
import type { Duplex } from 'node:stream';
import { RetryableDeliveryError } from '../../../shared/errors.js';
import {
  type PushGateway,
  type PushMessage,
  type PushResult,
  type PushTarget,
} from '../../../shared/push/push-gateway.js';
import { bodyToSend } from '../../../shared/push/apns-payloads.js';
import { exponentialBackoff, retry, retryTiming, type RetryTiming } from '../retry.js';
import type { ApnsTokenSource } from './apns-provider-token.js';

/**
 * Sends pushes straight to APNs over HTTP/2 (contract section 6). One long-lived connection per origin, because Apple
 * treats connection churn as a denial-of-service attack and multiplexes hundreds of streams on one connection.
 */

/** Structured logger; the Powertools Logger fits. Nothing logged here carries a device token, JWT or payload. */
export interface ApnsGatewayLogger {
  warn(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
}

export interface ApnsRetryOptions {
  /** Requests per push for 429, 5xx and connection failures, the first one included. Default 3. */
  attempts?: number;
  /** First backoff ceiling; it doubles per attempt and the delay is uniform below it (full jitter). Default 100. */
  baseDelayMs?: number;
  /** Upper bound of one delay, also for a server's `retry-after`. Default 2000. */
  maxDelayMs?: number;
}

/** `random` and `sleep` (RetryTiming) are the backoff's jitter and wait; tests inject them so they need not wait. */
export interface ApnsPushGatewayOptions extends Partial<RetryTiming> {
  /** Origin for `production` targets, e.g. `https://api.push.apple.com`. `http:` means h2c with prior knowledge. */
  production: URL | string;
  /** Origin for `sandbox` targets, e.g. `https://api.sandbox.push.apple.com`. */
  sandbox: URL | string;
  /** `apns-topic`: the app's bundle id. */
  topic: string;
  /** The provider token: one per signing key and process (ApnsProviderToken) or per fleet (FleetProviderToken). */
  token: ApnsTokenSource;
  retry?: ApnsRetryOptions;
  /** Time one request may take once its stream is open. Default 10000. */
  requestTimeoutMs?: number;
  /** Streams in flight per origin; the server's SETTINGS_MAX_CONCURRENT_STREAMS lowers it further. Default 1000. */
  maxConcurrentStreams?: number;
  /** An idle connection is pinged this often and dropped when the ping goes unanswered. Default 60000. */
  pingIntervalMs?: number;
  /**
   * Trust anchors for `https:` origins, replacing the system ones. Normally left out: Apple's chain is in Node's
   * store and a private server's CA is added process-wide with NODE_EXTRA_CA_CERTS.
   */
  ca?: string | Buffer | Array<string | Buffer>;
  logger?: ApnsGatewayLogger;
}

interface ApnsResponse {
  /** The connection that answered, so a verdict about it does not hit its successor. */
  connection: Connection;
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A request that got no HTTP answer: refused or reset stream, lost connection, timeout. Always worth a retry. */
/** One attempt that failed in a way worth another (429, 5xx, a transport failure). */
class FailedAttempt extends Error {
  constructor(
    readonly reason: string,
    readonly status: number | undefined,
    readonly retryAfterMs: number | undefined,
    override readonly cause?: unknown,
  ) {
    super(reason);
    this.name = 'FailedAttempt';
  }
}

class ApnsTransportError extends Error {
  constructor(
    readonly reason: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ApnsTransportError';
  }
}

type Verdict =
  | { kind: 'final'; result: PushResult }
  | { kind: 'refresh-token' }
  | { kind: 'retry'; status: number; reason: string; retryAfterMs: number | undefined; newConnection: boolean };

/** Answers that retire the token (contract section 6) besides any 410. */
const TOKEN_INVALID_400_REASONS = new Set(['BadDeviceToken', 'DeviceTokenNotForTopic']);

export class ApnsPushGateway implements PushGateway {
  private readonly origins: Record<PushTarget['environment'], Http2Origin>;
  private readonly topic: string;
  private readonly token: ApnsTokenSource;
  private readonly attempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly requestTimeoutMs: number;
  private readonly backoff: (attempt: number, random: () => number) => number;
  private readonly timing: RetryTiming;
  private readonly logger: ApnsGatewayLogger | undefined;

  constructor(opts: ApnsPushGatewayOptions) {
    if (!opts.topic) throw new TypeError('topic (the bundle id) is required');
    this.topic = opts.topic;
    this.token = opts.token;
    this.attempts = positiveInteger('retry.attempts', opts.retry?.attempts ?? 3);
    this.baseDelayMs = nonNegative('retry.baseDelayMs', opts.retry?.baseDelayMs ?? 100);
    this.maxDelayMs = nonNegative('retry.maxDelayMs', opts.retry?.maxDelayMs ?? 2000);
    this.requestTimeoutMs = positiveInteger('requestTimeoutMs', opts.requestTimeoutMs ?? 10_000);
    this.backoff = exponentialBackoff({ baseMs: this.baseDelayMs, maxMs: this.maxDelayMs });
    this.timing = retryTiming(opts);
    this.logger = opts.logger;

    const connection: ConnectionOptions = {
      maxConcurrentStreams: positiveInteger('maxConcurrentStreams', opts.maxConcurrentStreams ?? 1000),
      pingIntervalMs: positiveInteger('pingIntervalMs', opts.pingIntervalMs ?? 60_000),
      pingTimeoutMs: this.requestTimeoutMs,
      ca: opts.ca,
      logger: opts.logger,
    };
    const production = new Http2Origin(toOrigin('production', opts.production), connection);
    const sandbox = toOrigin('sandbox', opts.sandbox);
    // Local setups point both environments at one server; one connection serves both then.
    this.origins = {
      production,
      sandbox: sandbox.href === production.url.href ? production : new Http2Origin(sandbox, connection),
    };
  }

  /**
   * Sends one push. Resolves with `delivered`, `token-invalid` (410, BadDeviceToken, DeviceTokenNotForTopic) or
   * `rejected` (any other 4xx, and a payload over 4096 bytes without sending it). Retries 429, 5xx and transport
   * failures with jittered exponential backoff and throws `RetryableDeliveryError` once `retry.attempts` are spent.
   * A 403 ExpiredProviderToken renews the provider token and is retried once at once; a second one throws
   * `RetryableDeliveryError`, since only time can fix it (the token is younger than Apple's 20-minute floor).
   */
  async send(target: PushTarget, message: PushMessage): Promise<PushResult> {
    const toSend = bodyToSend(message);
    if ('refused' in toSend) return toSend.refused;
    const { body } = toSend;
    const origin = this.origins[target.environment];
    if (origin === undefined) throw new TypeError(`unknown APNs environment ${String(target.environment)}`);
    const headers = this.requestHeaders(target, message);

    let renewedToken = false;
    const timing = this.timing;
    return retry(
      async () => {
        for (;;) {
          const jwt = await this.token.current();
          let response: ApnsResponse;
          try {
            response = await origin.request({ ...headers, authorization: `bearer ${jwt}` }, body, this.requestTimeoutMs);
          } catch (error) {
            if (!(error instanceof ApnsTransportError)) throw error;
            throw new FailedAttempt(error.reason, undefined, undefined, error);
          }
          const verdict = classify(response);
          if (verdict.kind === 'final') {
            this.logOutcome(target, verdict.result);
            return verdict.result;
          }
          if (verdict.kind === 'refresh-token') {
            await this.token.refused(jwt, 'ExpiredProviderToken');
            // Renewed and sent again at once, without counting as an attempt; once per push.
            if (!renewedToken) {
              renewedToken = true;
              continue;
            }
            this.logger?.warn('APNs calls the provider token expired though it is too young to renew; check the clock', {
              deviceId: target.deviceId,
            });
            throw new RetryableDeliveryError('ExpiredProviderToken');
          }
          if (verdict.newConnection) origin.retire(response.connection);
          // Another token than the fleet's reached Apple; the retry goes out with the fleet's, not a new one.
          if (verdict.reason === 'TooManyProviderTokenUpdates') await this.token.refused(jwt, 'TooManyProviderTokenUpdates');
          throw new FailedAttempt(verdict.reason, verdict.status, verdict.retryAfterMs);
        }
      },
      {
        attempts: this.attempts,
        retryable: (error) => error instanceof FailedAttempt,
        // A server's retry-after wins over the jitter, capped at the max.
        delayMs: (attempt, random, error) => {
          const { retryAfterMs } = error as FailedAttempt;
          return retryAfterMs !== undefined ? Math.min(this.maxDelayMs, retryAfterMs) : this.backoff(attempt, random);
        },
        onRetry: ({ attempt, delayMs, error }) => {
          const failure = error as FailedAttempt;
          this.logger?.warn('APNs push retried', {
            deviceId: target.deviceId,
            environment: target.environment,
            attempt,
            status: failure.status,
            reason: failure.reason,
            delayMs,
          });
        },
      },
      timing,
    ).catch((error: unknown) => {
      if (error instanceof FailedAttempt) throw new RetryableDeliveryError(error.reason, { cause: error.cause });
      throw error;
    });
  }

  /** Closes both connections after their streams finish. Sends after this fail. */
  async close(): Promise<void> {
    await Promise.all([...new Set(Object.values(this.origins))].map((origin) => origin.close()));
  }

  private requestHeaders(target: PushTarget, message: PushMessage): OutgoingHttpHeaders {
    const headers: OutgoingHttpHeaders = {
      ':method': 'POST',
      // Tokens are validated as hex at registration; encoding still keeps a bad one from changing the path.
      ':path': `/3/device/${encodeURIComponent(target.pushToken)}`,
      'apns-topic': this.topic,
      'apns-push-type': message.kind,
      'apns-priority': String(message.priority),
      'content-type': 'application/json',
    };
    if (message.expiration !== undefined) headers['apns-expiration'] = String(Math.max(0, Math.floor(message.expiration)));
    if (message.collapseId !== undefined) headers['apns-collapse-id'] = message.collapseId;
    return headers;
  }

  private logOutcome(target: PushTarget, result: PushResult): void {
    if (result.outcome === 'rejected') {
      this.logger?.warn('APNs rejected a push', { deviceId: target.deviceId, status: result.status, reason: result.reason });
    } else if (result.outcome === 'token-invalid') {
      this.logger?.info('APNs reports the device token invalid', {
        deviceId: target.deviceId,
        status: result.status,
        reason: result.reason,
      });
    }
  }
}

function classify(response: ApnsResponse): Verdict {
  const { status } = response;
  if (status === 200) {
    const apnsId = headerValue(response.headers['apns-id']);
    return { kind: 'final', result: apnsId === undefined ? { outcome: 'delivered' } : { outcome: 'delivered', apnsId } };
  }
  const answer = parseErrorBody(response.body);
  const reason = answer.reason ?? `Http${status}`;
  if (status === 410) {
    return { kind: 'final', result: { outcome: 'token-invalid', status, reason, timestamp: answer.timestamp } };
  }
  if (status === 400 && TOKEN_INVALID_400_REASONS.has(reason)) {
    return { kind: 'final', result: { outcome: 'token-invalid', status, reason } };
  }
  if (status === 403 && reason === 'ExpiredProviderToken') return { kind: 'refresh-token' };
  // Apple closes an idle connection with 400 IdleTimeout and Shutdown/503 on a draining one: resend elsewhere.
  if (status === 400 && reason === 'IdleTimeout') {
    return { kind: 'retry', status, reason, retryAfterMs: undefined, newConnection: true };
  }
  if (status === 429 || status >= 500) {
    return {
      kind: 'retry',
      status,
      reason,
      retryAfterMs: parseRetryAfter(headerValue(response.headers['retry-after'])),
      newConnection: status === 503,
    };
  }
  return { kind: 'final', result: { outcome: 'rejected', status, reason } };
}

function parseErrorBody(body: string): { reason?: string; timestamp?: number } {
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed !== 'object' || parsed === null) return {};
    const { reason, timestamp } = parsed as Record<string, unknown>;
    return {
      reason: typeof reason === 'string' && reason !== '' ? reason : undefined,
      timestamp: typeof timestamp === 'number' && Number.isFinite(timestamp) ? timestamp : undefined,
    };
  } catch {
    return {};
  }
}

/** `retry-after` is delta-seconds or an HTTP date (RFC 9110). */
function parseRetryAfter(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function toOrigin(name: string, value: URL | string): URL {
  const url = new URL(value);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new TypeError(`${name} must be an https: (or h2c http:) origin, got ${url.protocol}`);
  }
  return new URL(url.origin);
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer`);
  return value;
}

function nonNegative(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name} must be a non-negative number`);
  return value;
}

interface ConnectionOptions {
  maxConcurrentStreams: number;
  pingIntervalMs: number;
  pingTimeoutMs: number;
  ca: ApnsPushGatewayOptions['ca'];
  logger: ApnsGatewayLogger | undefined;
}

interface Connection {
  session: ClientHttp2Session;
  /** The transport under the session, kept because Node hides it once the session closes. */
  socket?: Duplex;
  active: number;
  lastUsedAt: number;
  pinging: boolean;
}

/**
 * One origin's HTTP/2 connection: opened lazily, replaced after GOAWAY, close or error, pinged when idle, and
 * holding at most `maxConcurrentStreams` (or the server's lower limit) requests in flight; the rest queue here.
 */
class Http2Origin {
  private current: Connection | undefined;
  private inFlight = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly pingTimer: NodeJS.Timeout;
  private closed = false;

  constructor(
    readonly url: URL,
    private readonly opts: ConnectionOptions,
  ) {
    this.pingTimer = setInterval(() => this.pingIfIdle(), opts.pingIntervalMs);
    this.pingTimer.unref();
  }

  async request(headers: OutgoingHttpHeaders, body: string, timeoutMs: number): Promise<ApnsResponse> {
    await this.acquireStream();
    try {
      return await this.exchange(this.connection(), headers, body, timeoutMs);
    } finally {
      this.releaseStream();
    }
  }

  /** Stops using this connection for new requests; its open streams still finish. */
  retire(connection: Connection): void {
    if (this.current === connection) this.current = undefined;
    if (!connection.session.closed) connection.session.close();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.pingTimer);
    for (const wake of this.waiting.splice(0)) wake();
    const connection = this.current;
    this.current = undefined;
    if (connection === undefined || connection.session.destroyed) return;
    const session = connection.session;
    await new Promise<void>((resolve) => {
      // A graceful close waits for open streams and for a peer that may never read again; bound it.
      const deadline = setTimeout(() => destroyConnection(connection), this.opts.pingTimeoutMs);
      deadline.unref();
      session.once('close', () => {
        clearTimeout(deadline);
        resolve();
      });
      // An idle session is unref'd; whoever awaits close() needs the process to live until it is done.
      session.ref();
      session.close();
    });
  }

  private limit(): number {
    const remote = this.current?.session.remoteSettings.maxConcurrentStreams;
    // A server may announce 0 streams for a moment; waiting for one stream is still progress.
    return Math.max(1, Math.min(this.opts.maxConcurrentStreams, remote ?? Number.POSITIVE_INFINITY));
  }

  private async acquireStream(): Promise<void> {
    while (!this.closed && this.inFlight >= this.limit()) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    if (this.closed) throw new Error('the APNs gateway is closed');
    this.inFlight += 1;
  }

  private releaseStream(): void {
    this.inFlight -= 1;
    this.wakeWaiting();
  }

  private wakeWaiting(): void {
    let free = this.limit() - this.inFlight;
    while (free > 0 && this.waiting.length > 0) {
      this.waiting.shift()?.();
      free -= 1;
    }
  }

  private connection(): Connection {
    const existing = this.current;
    if (existing !== undefined && !existing.session.closed && !existing.session.destroyed) return existing;

    // http: origins speak h2c with prior knowledge; https: negotiates h2 by ALPN against Node's trust store.
    const options: SecureClientSessionOptions = this.opts.ca === undefined ? {} : { ca: this.opts.ca };
    const session = http2.connect(this.url, options);
    const connection: Connection = { session, active: 0, lastUsedAt: Date.now(), pinging: false };
    const forget = (): void => {
      if (this.current === connection) this.current = undefined;
    };
    session.on('error', (error: NodeJS.ErrnoException) => {
      forget();
      this.opts.logger?.warn('APNs connection failed', { origin: this.url.origin, code: error.code });
    });
    session.on('goaway', (errorCode: number, _lastStreamId: number, opaqueData?: Buffer) => {
      // Node closes the session itself after a GOAWAY; new requests must go to a fresh connection.
      forget();
      this.opts.logger?.info('APNs connection sent GOAWAY', {
        origin: this.url.origin,
        errorCode,
        reason: opaqueData === undefined ? undefined : parseErrorBody(opaqueData.toString('utf8')).reason,
      });
    });
    session.on('close', forget);
    session.once('connect', (_session: ClientHttp2Session, socket: Duplex) => {
      connection.socket = socket;
    });
    session.on('remoteSettings', () => this.wakeWaiting());
    this.current = connection;
    return connection;
  }

  private exchange(
    connection: Connection,
    headers: OutgoingHttpHeaders,
    body: string,
    timeoutMs: number,
  ): Promise<ApnsResponse> {
    const { session } = connection;
    return new Promise<ApnsResponse>((resolve, reject) => {
      let stream: ClientHttp2Stream;
      try {
        stream = session.request(headers);
      } catch (error) {
        // The session went away between lookup and use (GOAWAY received, destroyed).
        reject(new ApnsTransportError('ConnectionError', 'the HTTP/2 session is no longer usable', { cause: error }));
        return;
      }
      // A connection keeps the process alive only while it carries a request.
      if (connection.active === 0) session.ref();
      connection.active += 1;

      let settled = false;
      let status: number | undefined;
      let responseHeaders: IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      const settle = (outcome: ApnsResponse | ApnsTransportError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        connection.active -= 1;
        connection.lastUsedAt = Date.now();
        if (connection.active === 0 && !session.destroyed) session.unref();
        if (outcome instanceof ApnsTransportError) reject(outcome);
        else resolve(outcome);
      };
      const timer = setTimeout(() => {
        settle(new ApnsTransportError('RequestTimeout', `no answer within ${timeoutMs} ms`));
        stream.close(http2.constants.NGHTTP2_CANCEL);
        // A silent peer is often a dead connection that TCP has not noticed yet.
        this.probe(connection);
      }, timeoutMs);

      stream.on('response', (received) => {
        status = Number(received[':status']);
        responseHeaders = received;
      });
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        if (status === undefined) {
          settle(new ApnsTransportError('ConnectionError', 'the stream ended without a response'));
        } else {
          settle({ connection, status, headers: responseHeaders, body: Buffer.concat(chunks).toString('utf8') });
        }
      });
      // 'close' follows every stream, answered or not; only build an error (and its stack) when it is the outcome.
      stream.on('error', (error: NodeJS.ErrnoException) => {
        if (settled) return;
        settle(new ApnsTransportError(streamFailureReason(stream), `the request failed (${error.code ?? 'error'})`, { cause: error }));
      });
      stream.on('close', () => {
        if (settled) return;
        settle(new ApnsTransportError(streamFailureReason(stream), `the stream closed before an answer (code ${stream.rstCode})`));
      });
      stream.end(body);
    });
  }

  private pingIfIdle(): void {
    const connection = this.current;
    if (connection === undefined || connection.active > 0) return;
    if (Date.now() - connection.lastUsedAt < this.opts.pingIntervalMs) return;
    this.probe(connection);
  }

  /** Pings the connection and drops it if the answer does not come in time. */
  private probe(connection: Connection): void {
    const { session } = connection;
    if (connection.pinging || session.closed || session.destroyed) return;
    if (session.connecting) {
      // Still no handshake after a whole request timeout: the peer is unreachable.
      this.drop(connection);
      return;
    }
    connection.pinging = true;
    const timer = setTimeout(() => {
      if (!this.closed) this.drop(connection);
    }, this.opts.pingTimeoutMs);
    timer.unref();
    const sent = session.ping((error) => {
      clearTimeout(timer);
      connection.pinging = false;
      // close() cancels pending pings and bounds the shutdown itself.
      if (error && !this.closed) this.drop(connection);
      else connection.lastUsedAt = Date.now();
    });
    if (!sent) {
      clearTimeout(timer);
      connection.pinging = false;
    }
  }

  private drop(connection: Connection): void {
    if (this.current === connection) this.current = undefined;
    this.opts.logger?.warn('APNs connection unresponsive, reconnecting', { origin: this.url.origin });
    destroyConnection(connection);
  }
}

/**
 * Node's `session.destroy()` leaves the socket open (and the process alive) when the peer stopped reading, and
 * never emits 'close' then; destroying the socket too ends both.
 */
function destroyConnection(connection: Connection): void {
  connection.session.destroy();
  connection.socket?.destroy();
}

/** Why a stream died without an answer; REFUSED_STREAM comes from a GOAWAY that did not include it. */
function streamFailureReason(stream: ClientHttp2Stream): string {
  if (stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM) return 'StreamRefused';
  return 'ConnectionError';
}
