import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpEvent, HttpHandler, HttpResult } from '../../functions/_lib/http.js';
import { matchRoute } from '../../functions/_lib/routes.js';
import { localLambdaContext } from './lambda-context.js';

/** API Gateway HTTP APIs refuse larger payloads themselves; the functions apply their own, smaller limits. */
const MAX_REQUEST_BYTES = 10 * 1024 * 1024;

export interface LocalFunctionRoute {
  functionName: string;
  routes: readonly string[];
  handler: HttpHandler;
}

/** A handler for paths outside the API (health, status page); returns false when it does not serve the path. */
export type LocalExtraRoute = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean> | boolean;

/**
 * The local stand-in for API Gateway: matches the route table, builds a payload-v2 event (body base64-encoded, so
 * the handlers see exactly the bytes that arrived) and writes the handler's structured result back.
 */
export function createHttpRouter(functions: LocalFunctionRoute[], extras: LocalExtraRoute[] = []) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      const url = new URL(req.url ?? '/', 'http://local');
      for (const extra of extras) {
        if (await extra(req, res, url)) return;
      }
      let methodNotAllowed = false;
      for (const fn of functions) {
        const match = matchRoute(fn.routes, req.method ?? 'GET', url.pathname);
        if (match === 'method-not-allowed') {
          methodNotAllowed = true;
          continue;
        }
        if (!match) continue;
        const body = await readBody(req);
        if (body === 'too-large') {
          sendJson(res, 413, { error: { code: 'payload_too_large', message: 'request body too large' } });
          return;
        }
        const event = toHttpEvent(req, url, match.routeKey, match.pathParameters, body);
        const result = await fn.handler(event, localLambdaContext(fn.functionName));
        writeResult(res, result);
        return;
      }
      if (methodNotAllowed) sendJson(res, 405, { error: { code: 'method_not_allowed', message: 'method not allowed on this path' } });
      else sendJson(res, 404, { error: { code: 'not_found', message: 'no such route' } });
    } catch {
      if (!res.headersSent) sendJson(res, 500, { error: { code: 'internal_error', message: 'internal error' } });
      else res.destroy();
    }
  };
}

async function readBody(req: IncomingMessage): Promise<Buffer | 'too-large'> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_REQUEST_BYTES) {
      req.resume();
      return 'too-large';
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function toHttpEvent(req: IncomingMessage, url: URL, routeKey: string, pathParameters: Record<string, string>, body: Buffer): HttpEvent {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
  }
  const now = new Date();
  return {
    version: '2.0',
    routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.replace(/^\?/, ''),
    headers,
    ...(url.search ? { queryStringParameters: Object.fromEntries(url.searchParams) } : {}),
    pathParameters,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'local',
      http: {
        method: req.method ?? 'GET',
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey,
      stage: '$default',
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
    body: body.toString('base64'),
    isBase64Encoded: true,
  };
}

function writeResult(res: ServerResponse, result: HttpResult): void {
  const headers = { ...(result.headers ?? {}) } as Record<string, string | number | boolean>;
  const body = result.body === undefined ? undefined : result.isBase64Encoded ? Buffer.from(result.body, 'base64') : Buffer.from(result.body, 'utf8');
  res.writeHead(result.statusCode ?? 200, Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, String(v)])));
  res.end(body);
}

export function sendJson(res: ServerResponse, statusCode: number, body: unknown): void {
  res.writeHead(statusCode, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}
