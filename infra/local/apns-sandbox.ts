import {
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  randomUUID,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import http2, {
  type Http2SecureServer,
  type Http2Server,
  type Http2Session,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import type { AddressInfo } from 'node:net';

/**
 * An APNs look-alike for `npm start` and tests: HTTP/2 on 127.0.0.1 that checks requests the way Apple documents it,
 * answers with Apple's status codes and `{"reason"}` bodies, and records every push, refused ones included.
 * Plaintext (h2c) by default, since nothing leaves the machine; TLS on request for clients that only speak h2 over TLS.
 */

/** One request as the sandbox received it. */
export interface RecordedPush {
  /** When it arrived, epoch ms. */
  at: number;
  /** The device token from the path, as sent. */
  token: string;
  /** Request headers with lower-case names, pseudo-headers (`:path`) included; repeated ones joined with ", ". */
  headers: Record<string, string>;
  /** The parsed JSON body; the raw text when it is not JSON; undefined when empty. */
  payload: unknown;
  /** The status answered. */
  status: number;
  /** The APNs reason answered, absent on 200. */
  reason?: string;
  /** The `apns-id` answered. */
  apnsId: string;
  /** The provider token's decoded header and claims; both empty when there was no readable JWT. */
  jwt: { header: Record<string, unknown>; claims: Record<string, unknown> };
}

/** A request before it is answered, as fault-injection rules see it. */
export type SandboxRequest = Omit<RecordedPush, 'status' | 'reason' | 'apnsId'>;

/** An answer a rule imposes instead of the sandbox's own validation. */
export interface SandboxAnswer {
  status: number;
  reason?: string;
  /** Epoch ms, sent in the body as Apple does with 410. */
  timestamp?: number;
  /** Seconds, sent as `retry-after`. */
  retryAfter?: number;
}

export type SandboxRule = (push: SandboxRequest) => SandboxAnswer | undefined;

export interface ApnsSandboxOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** When set, `apns-topic` must equal it; otherwise any well-formed topic is accepted. */
  topic?: string;
  /** When set, the JWT's `kid` must equal it. */
  keyId?: string;
  /** When set, the JWT's `iss` must equal it. */
  teamId?: string;
  /** When set, the JWT's ES256 signature must verify with it. */
  publicKeyPem?: string;
  /** Serve h2 over TLS with this key and certificate instead of h2c (see `generateLoopbackCertificate`). */
  tls?: { keyPem: string; certPem: string };
  /** SETTINGS_MAX_CONCURRENT_STREAMS announced to clients. Default 500, about what APNs has been seen to announce. */
  maxConcurrentStreams?: number;
  /** Epoch ms for `at` and the token-age check; defaults to `Date.now`. Share the relay's clock when tests move it. */
  clock?: () => number;
  /**
   * When set, a provider token not seen before (for its key id and team) is refused with 429
   * TooManyProviderTokenUpdates if the previous new token was accepted less than this long ago, as Apple does within
   * its 20-minute floor; a token already accepted stays good until it expires. Off by default, since a test that moves
   * the clock backwards would trip it.
   */
  tokenUpdateFloorMs?: number;
}

export interface ApnsSandbox {
  /** `http://127.0.0.1:<port>` (or `https:` with `tls`). */
  url: string;
  /** Every request received so far, oldest first. */
  pushes(): RecordedPush[];
  /** Forgets the recorded pushes (not the rule nor the unregistered tokens). */
  clear(): void;
  /** Back to a fresh sandbox: forgets the recorded pushes, the rule, the unregistered tokens and the token updates. */
  reset(): void;
  /** Resolves with the recorded pushes once there are at least `n`; rejects after `timeoutMs` (default 5000). */
  waitForPushes(n: number, timeoutMs?: number): Promise<RecordedPush[]>;
  /** Answers with the rule's result where it returns one; `undefined` as the rule restores the default behaviour. */
  respondWith(rule: SandboxRule | undefined): void;
  /** Later pushes to this token answer 410 Unregistered with `timestamp` = `atMs` (default now). */
  unregister(token: string, atMs?: number): void;
  stop(): Promise<void>;
}

/** Values Apple accepts in `apns-push-type`. */
export const APNS_PUSH_TYPES: ReadonlySet<string> = new Set([
  'alert',
  'background',
  'voip',
  'complication',
  'fileprovider',
  'mdm',
  'liveactivity',
  'location',
  'pushtotalk',
  'controls',
  'widgets',
]);

const MAX_PAYLOAD_BYTES = 4096;
const MAX_VOIP_PAYLOAD_BYTES = 5120;
/** Bodies beyond this are not kept in memory; they are too large either way. */
const MAX_BUFFERED_BYTES = 64 * 1024;
const TOKEN_MAX_AGE_MS = 60 * 60_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TOPIC = /^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/;

type Verdict = { status: number; reason?: string; timestamp?: number; retryAfter?: number };

/** Starts the sandbox on 127.0.0.1. */
export async function startApnsSandbox(opts: ApnsSandboxOptions = {}): Promise<ApnsSandbox> {
  const clock = opts.clock ?? Date.now;
  const publicKey = opts.publicKeyPem === undefined ? undefined : createPublicKey(opts.publicKeyPem);
  const settings = { maxConcurrentStreams: opts.maxConcurrentStreams ?? 500 };
  const server: Http2Server | Http2SecureServer =
    opts.tls === undefined
      ? http2.createServer({ settings })
      : http2.createSecureServer({ settings, key: opts.tls.keyPem, cert: opts.tls.certPem });

  const recorded: RecordedPush[] = [];
  const waiters = new Set<{ n: number; resolve: (pushes: RecordedPush[]) => void }>();
  const unregistered = new Map<string, number>();
  const sessions = new Set<Http2Session>();
  // Signatures are checked once per distinct JWT, as a real provider endpoint can afford to.
  const signatureChecks = new Map<string, boolean>();
  let rule: SandboxRule | undefined;
  // Per key id and team: when the newest token was first accepted, and every token accepted since the start.
  const lastTokenUpdate = new Map<string, number>();
  const acceptedTokens = new Set<string>();
  const tokenUpdateVerdict = (kid: string, iss: string, token: string): Verdict | undefined => {
    if (opts.tokenUpdateFloorMs === undefined || acceptedTokens.has(token)) return undefined;
    const key = `${iss}#${kid}`;
    const last = lastTokenUpdate.get(key);
    if (last !== undefined && clock() - last < opts.tokenUpdateFloorMs) {
      return { status: 429, reason: 'TooManyProviderTokenUpdates' };
    }
    lastTokenUpdate.set(key, clock());
    acceptedTokens.add(token);
    return undefined;
  };

  const verifyJwt = (authorization: string | undefined): { jwt: RecordedPush['jwt']; verdict?: Verdict } => {
    const empty = { header: {}, claims: {} };
    if (authorization === undefined || authorization === '') {
      return { jwt: empty, verdict: { status: 403, reason: 'MissingProviderToken' } };
    }
    const match = /^bearer\s+([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/i.exec(authorization.trim());
    const header = match && decodeJsonSegment(match[1]!);
    const claims = match && decodeJsonSegment(match[2]!);
    if (!match || !header || !claims) return { jwt: empty, verdict: { status: 403, reason: 'InvalidProviderToken' } };
    const jwt = { header, claims };
    const invalid = { jwt, verdict: { status: 403, reason: 'InvalidProviderToken' } };
    if (header['alg'] !== 'ES256' || typeof header['kid'] !== 'string' || typeof claims['iss'] !== 'string') return invalid;
    if (opts.keyId !== undefined && header['kid'] !== opts.keyId) return invalid;
    if (opts.teamId !== undefined && claims['iss'] !== opts.teamId) return invalid;
    if (typeof claims['iat'] !== 'number' || !Number.isFinite(claims['iat'])) return invalid;
    if (publicKey !== undefined && !signatureValid(publicKey, match, signatureChecks)) return invalid;
    if (clock() - claims['iat'] * 1000 > TOKEN_MAX_AGE_MS) {
      return { jwt, verdict: { status: 403, reason: 'ExpiredProviderToken' } };
    }
    const updates = tokenUpdateVerdict(header['kid'], claims['iss'], `${match[1]}.${match[2]}.${match[3]}`);
    return updates === undefined ? { jwt } : { jwt, verdict: updates };
  };

  const validate = (request: SandboxRequest, rawBody: Buffer, bodyBytes: number, authVerdict?: Verdict): Verdict => {
    const h = request.headers;
    if (h[':method'] !== 'POST') return { status: 405, reason: 'MethodNotAllowed' };
    const path = /^\/3\/device\/([^/?]*)$/.exec(h[':path'] ?? '');
    if (!path) return { status: 404, reason: 'BadPath' };
    if (request.token === '') return { status: 400, reason: 'MissingDeviceToken' };
    if (!/^[0-9a-f]{64}$/i.test(request.token)) return { status: 400, reason: 'BadDeviceToken' };
    if (authVerdict) return authVerdict;

    const topic = h['apns-topic'];
    if (topic === undefined || topic === '') return { status: 400, reason: 'MissingTopic' };
    if (!TOPIC.test(topic)) return { status: 400, reason: 'BadTopic' };
    // With token auth Apple accepts any of the team's topics, so a different app's bundle id means the token is not
    // for that topic.
    if (opts.topic !== undefined && topic !== opts.topic) return { status: 400, reason: 'DeviceTokenNotForTopic' };

    const pushType = h['apns-push-type'];
    if (pushType === undefined || !APNS_PUSH_TYPES.has(pushType)) return { status: 400, reason: 'InvalidPushType' };
    const priority = h['apns-priority'];
    if (priority !== undefined && !['1', '5', '10'].includes(priority)) return { status: 400, reason: 'BadPriority' };
    const expiration = h['apns-expiration'];
    if (expiration !== undefined && !/^\d+$/.test(expiration)) return { status: 400, reason: 'BadExpirationDate' };
    const collapseId = h['apns-collapse-id'];
    if (collapseId !== undefined && Buffer.byteLength(collapseId) > 64) return { status: 400, reason: 'BadCollapseId' };
    const apnsId = h['apns-id'];
    if (apnsId !== undefined && !UUID.test(apnsId)) return { status: 400, reason: 'BadMessageId' };

    if (bodyBytes === 0) return { status: 400, reason: 'PayloadEmpty' };
    if (bodyBytes > (pushType === 'voip' ? MAX_VOIP_PAYLOAD_BYTES : MAX_PAYLOAD_BYTES)) {
      return { status: 413, reason: 'PayloadTooLarge' };
    }
    const payload = parseJson(rawBody.toString('utf8'));
    // Apple documents no reason for a body that is not a JSON object; this name is the sandbox's own.
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
      return { status: 400, reason: 'BadPayload' };
    }
    // Priority 10 (also when the header is absent) is an error for a push that only carries content-available.
    if ((priority ?? '10') === '10' && isContentAvailableOnly(payload)) return { status: 400, reason: 'BadPriority' };

    const unregisteredAt = unregistered.get(request.token.toLowerCase());
    if (unregisteredAt !== undefined) return { status: 410, reason: 'Unregistered', timestamp: unregisteredAt };
    return { status: 200 };
  };

  const record = (push: RecordedPush): void => {
    recorded.push(push);
    for (const waiter of waiters) {
      if (recorded.length >= waiter.n) {
        waiters.delete(waiter);
        waiter.resolve([...recorded]);
      }
    }
  };

  const answer = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, rawBody: Buffer, bodyBytes: number): void => {
    const plainHeaders = flattenHeaders(headers);
    const path = plainHeaders[':path'] ?? '';
    const token = path.startsWith('/3/device/') ? path.slice('/3/device/'.length).split('?')[0]! : '';
    const bodyText = rawBody.toString('utf8');
    const auth = verifyJwt(plainHeaders['authorization']);
    const request: SandboxRequest = {
      at: clock(),
      token,
      headers: plainHeaders,
      payload: bodyBytes === 0 ? undefined : (parseJson(bodyText) ?? bodyText),
      jwt: auth.jwt,
    };
    const verdict = rule?.(request) ?? validate(request, rawBody, bodyBytes, auth.verdict);
    const requestedId = plainHeaders['apns-id'];
    const apnsId = requestedId !== undefined && UUID.test(requestedId) ? requestedId.toLowerCase() : randomUUID();
    record({ ...request, status: verdict.status, reason: verdict.reason, apnsId });

    if (stream.destroyed || stream.closed) return;
    const responseHeaders: Record<string, string | number> = { ':status': verdict.status, 'apns-id': apnsId };
    if (verdict.retryAfter !== undefined) responseHeaders['retry-after'] = String(verdict.retryAfter);
    if (verdict.status === 200) {
      stream.respond(responseHeaders, { endStream: true });
      return;
    }
    responseHeaders['content-type'] = 'application/json';
    stream.respond(responseHeaders);
    const body: Record<string, unknown> = { reason: verdict.reason ?? 'Unknown' };
    if (verdict.timestamp !== undefined) body['timestamp'] = verdict.timestamp;
    stream.end(JSON.stringify(body));
  };

  server.on('session', (session: Http2Session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
    session.on('error', () => session.destroy());
  });
  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    stream.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes <= MAX_BUFFERED_BYTES) chunks.push(chunk);
    });
    stream.on('end', () => answer(stream, headers, Buffer.concat(chunks), bytes));
    // A client that resets its stream is not the sandbox's problem.
    stream.on('error', () => undefined);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `${opts.tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`,
    pushes: () => [...recorded],
    clear: () => {
      recorded.length = 0;
    },
    reset: () => {
      recorded.length = 0;
      rule = undefined;
      unregistered.clear();
      lastTokenUpdate.clear();
      acceptedTokens.clear();
    },
    waitForPushes: (n, timeoutMs = 5000) => {
      if (recorded.length >= n) return Promise.resolve([...recorded]);
      return new Promise<RecordedPush[]>((resolve, reject) => {
        const waiter = {
          n,
          resolve: (pushes: RecordedPush[]) => {
            clearTimeout(timer);
            resolve(pushes);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`the APNs sandbox received ${recorded.length} of ${n} pushes within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    respondWith: (next) => {
      rule = next;
    },
    unregister: (token, atMs = clock()) => {
      unregistered.set(token.toLowerCase(), atMs);
    },
    stop: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const session of sessions) session.destroy();
      await closed;
    },
  };
}

/** A fresh ES256 (P-256) signing key, PKCS#8 like Apple's .p8 files, and its public half for the sandbox. */
export function generateApnsTestKey(): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', {
    namedCurve: 'prime256v1',
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
}

/**
 * A self-signed P-256 certificate for `127.0.0.1` and `localhost`, valid from an hour ago for 30 days, with its key.
 * Node can sign but not build X.509, so the DER is assembled here; trust it with `ca` or NODE_EXTRA_CA_CERTS.
 * `serial` (unsigned big-endian bytes, random 16 by default) is there so tests can walk the INTEGER encoding's edges.
 */
export function generateLoopbackCertificate(
  options: { commonName?: string; serial?: Uint8Array } = {},
): { keyPem: string; certPem: string } {
  const commonName = options.commonName ?? 'inbox-relay local APNs sandbox';
  const serial = options.serial ?? randomBytes(16);
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const ecdsaWithSha256 = der.sequence(der.oid('1.2.840.10045.4.3.2'));
  const name = der.sequence(der.set(der.sequence(der.oid('2.5.4.3'), der.utf8(commonName))));
  const now = Date.now();
  const subjectAltName = der.sequence(
    der.tagged(0x82, Buffer.from('localhost', 'ascii')), // dNSName
    der.tagged(0x87, Buffer.from([127, 0, 0, 1])), // iPAddress
  );
  const basicConstraintsCa = der.sequence(der.boolean(true));
  const tbs = der.sequence(
    der.tagged(0xa0, derUnsignedInteger(Uint8Array.of(2))), // v3
    derUnsignedInteger(serial),
    ecdsaWithSha256,
    name,
    der.sequence(der.utcTime(new Date(now - 3_600_000)), der.utcTime(new Date(now + 30 * 86_400_000))),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    der.tagged(
      0xa3,
      der.sequence(
        der.sequence(der.oid('2.5.29.17'), der.octetString(subjectAltName)),
        der.sequence(der.oid('2.5.29.19'), der.boolean(true), der.octetString(basicConstraintsCa)),
      ),
    ),
  );
  const signature = sign('sha256', tbs, privateKey); // DER-encoded ECDSA, as X.509 wants
  const certificate = der.sequence(tbs, ecdsaWithSha256, der.bitString(signature));
  const base64 = certificate.toString('base64').replace(/(.{64})/g, '$1\n');
  return {
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    certPem: `-----BEGIN CERTIFICATE-----\n${base64.trimEnd()}\n-----END CERTIFICATE-----\n`,
  };
}

/**
 * A non-negative integer, given as unsigned big-endian bytes, as a DER INTEGER. DER wants the fewest two's-complement
 * octets: leading zero octets go (a random serial starts with one 1 time in 256, and OpenSSL then refuses the whole
 * certificate with "illegal padding"), and one zero octet comes back in front when the top bit is set, else the value
 * would read as negative. Zero is the single octet 0.
 */
export function derUnsignedInteger(unsigned: Uint8Array): Buffer {
  let start = 0;
  while (start < unsigned.length - 1 && unsigned[start] === 0) start++;
  const minimal = Buffer.from(unsigned.subarray(start));
  if (minimal.length === 0) return der.tagged(0x02, Buffer.from([0]));
  return der.tagged(0x02, minimal[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), minimal]) : minimal);
}

/** The few DER encodings a certificate needs. */
const der = {
  tagged(tag: number, content: Buffer): Buffer {
    const length = content.length;
    let lengthBytes: Buffer;
    if (length < 0x80) {
      lengthBytes = Buffer.from([length]);
    } else {
      const digits: number[] = [];
      for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) digits.unshift(rest % 256);
      lengthBytes = Buffer.from([0x80 | digits.length, ...digits]);
    }
    return Buffer.concat([Buffer.from([tag]), lengthBytes, content]);
  },
  sequence: (...items: Buffer[]): Buffer => der.tagged(0x30, Buffer.concat(items)),
  set: (...items: Buffer[]): Buffer => der.tagged(0x31, Buffer.concat(items)),
  boolean: (value: boolean): Buffer => der.tagged(0x01, Buffer.from([value ? 0xff : 0])),
  oid(dotted: string): Buffer {
    const [first, second, ...rest] = dotted.split('.').map(Number);
    const bytes = [first! * 40 + second!];
    for (const arc of rest) {
      const base128 = [arc & 0x7f];
      for (let value = arc >>> 7; value > 0; value >>>= 7) base128.unshift((value & 0x7f) | 0x80);
      bytes.push(...base128);
    }
    return der.tagged(0x06, Buffer.from(bytes));
  },
  utf8: (text: string): Buffer => der.tagged(0x0c, Buffer.from(text, 'utf8')),
  octetString: (content: Buffer): Buffer => der.tagged(0x04, content),
  bitString: (content: Buffer): Buffer => der.tagged(0x03, Buffer.concat([Buffer.from([0]), content])),
  utcTime(date: Date): Buffer {
    const text = date.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z'; // YYMMDDHHMMSSZ
    return der.tagged(0x17, Buffer.from(text, 'ascii'));
  },
};

function signatureValid(key: KeyObject, jwt: RegExpExecArray, cache: Map<string, boolean>): boolean {
  const compact = `${jwt[1]}.${jwt[2]}.${jwt[3]}`;
  const known = cache.get(compact);
  if (known !== undefined) return known;
  const valid = verify(
    'sha256',
    Buffer.from(`${jwt[1]}.${jwt[2]}`),
    { key, dsaEncoding: 'ieee-p1363' },
    Buffer.from(jwt[3]!, 'base64url'),
  );
  if (cache.size >= 256) cache.clear();
  cache.set(compact, valid);
  return valid;
}

function decodeJsonSegment(segment: string): Record<string, unknown> | undefined {
  const value = parseJson(Buffer.from(segment, 'base64url').toString('utf8'));
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isContentAvailableOnly(payload: object): boolean {
  const aps = (payload as Record<string, unknown>)['aps'];
  if (typeof aps !== 'object' || aps === null) return false;
  const keys = aps as Record<string, unknown>;
  return keys['content-available'] === 1 && keys['alert'] === undefined && keys['sound'] === undefined && keys['badge'] === undefined;
}

function flattenHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    flat[name] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return flat;
}
