import type { HttpHandler, HttpResult } from '../../functions/_lib/http.js';
import { localLambdaContext } from '../../infra/local/lambda-context.js';
import { sleep } from '../../scripts/simulator/concurrency.js';

/** A tiny HTTP client for the device API as tests use it: raw status codes and bodies, nothing hidden. */
export interface ApiAnswer<T = any> {
  status: number;
  body: T;
}

export async function api<T = any>(baseUrl: string, method: string, path: string, options: { token?: string; body?: unknown; contentType?: string } = {}): Promise<ApiAnswer<T>> {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers,
    ...(options.body !== undefined ? { body: typeof options.body === 'string' ? options.body : JSON.stringify(options.body) } : {}),
  });
  const text = await response.text();
  let body: any = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON; keep the text
  }
  return { status: response.status, body };
}

export const PUSH_TOKEN_A = 'a'.repeat(64);
export const PUSH_TOKEN_B = 'b1'.repeat(32);

/** Polls until `check` returns a value (not undefined) or the deadline passes. */
export async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000, intervalMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(intervalMs);
  }
}

export interface HandlerCallOptions {
  params?: Record<string, string>;
  token?: string;
  /** JSON-encoded unless a string (sent as is). */
  body?: unknown;
  contentType?: string;
}

/**
 * Calls an HTTP function's handler (device API, org API) in process, as API Gateway would: the route key, path
 * parameters, bearer token and body given; the answer's status and its JSON body.
 */
export function handlerCaller(handler: HttpHandler, functionName = 'device-api') {
  return async (routeKey: string, options: HandlerCallOptions = {}): Promise<ApiAnswer> => {
    const headers: Record<string, string> = {};
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    if (options.body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
    const result = (await handler(
      {
        version: '2.0',
        routeKey,
        rawPath: '/',
        rawQueryString: '',
        headers,
        pathParameters: options.params ?? {},
        requestContext: {} as never,
        body: options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body),
        isBase64Encoded: false,
      },
      localLambdaContext(functionName),
    )) as HttpResult;
    return { status: result.statusCode ?? 0, body: result.body ? JSON.parse(result.body) : undefined };
  };
}
