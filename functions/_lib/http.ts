import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type * as z from '../../shared/zod.js';
import {
  MalformedJsonError,
  PayloadTooLargeError,
  UnauthorizedError,
  UnsupportedMediaTypeError,
  ValidationError,
} from '../../shared/errors.js';
import { toFieldIssues } from '../../shared/validation.js';
import { httpAnswerFor } from './http-errors.js';
import { observability } from './middleware.js';
import { logger, metrics } from './powertools.js';

export type HttpEvent = APIGatewayProxyEventV2;
export type HttpResult = APIGatewayProxyStructuredResultV2;
/** Middy's own type for the handler, so its typing flows to callers (they call it as `(event, context)`). */
export type HttpHandler = middy.MiddyfiedHandler<HttpEvent, HttpResult, Error, Context>;

/** Largest JSON body the device API reads; registrations are well under 4 KiB. */
const MAX_JSON_BODY_BYTES = 64 * 1024;

/**
 * The one middleware stack every HTTP function uses: logger context, tracer, metrics, and the error handler
 * registered last so that it runs first on error and turns typed errors into the contract's answers.
 */
export function httpHandler(route: (event: HttpEvent) => Promise<HttpResult>): HttpHandler {
  return middy<HttpEvent, HttpResult>()
    .use(observability())
    .use(httpErrorHandler())
    .handler(route);
}

function httpErrorHandler(): middy.MiddlewareObj<HttpEvent, HttpResult> {
  return {
    onError: (request) => {
      const answer = httpAnswerFor(request.error);
      if (answer.internal) {
        logger.error('request failed', { error: request.error as Error, statusCode: answer.statusCode });
      } else {
        logger.info('request refused', { statusCode: answer.statusCode, code: answer.code });
      }
      metrics.addMetric(answer.internal ? 'Http5xx' : 'Http4xx', 'Count', 1);
      request.response = json(answer.statusCode, { error: { code: answer.code, message: answer.message } });
    },
  };
}

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResult {
  return {
    statusCode,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers },
    body: JSON.stringify(body),
  };
}

export function noContent(): HttpResult {
  return { statusCode: 204, headers: { 'cache-control': 'no-store' } };
}

export function header(event: HttpEvent, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === wanted) return value;
  }
  return undefined;
}

/** The raw request body as bytes, whether API Gateway base64-encoded it or not. */
export function bodyBytes(event: HttpEvent): Uint8Array {
  if (event.body === undefined || event.body === null) return new Uint8Array();
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64') : Buffer.from(event.body, 'utf8');
}

export function bearerToken(event: HttpEvent): string {
  const value = header(event, 'authorization');
  const match = value === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(value);
  if (!match?.[1]) throw new UnauthorizedError('missing "Authorization: Bearer <token>" header');
  return match[1];
}

/** Keys that would reach an object's prototype if ever merged; refused anywhere in a JSON body. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Deepest nesting a JSON body may have; a registration is four levels deep. The walk below, the merge patch and the
 * schemas all recurse, and 64 KiB of brackets would otherwise take them past the stack limit (a RangeError, a 500).
 */
const MAX_JSON_DEPTH = 32;

function findForbiddenKey(value: unknown, path: string[] = []): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  if (path.length >= MAX_JSON_DEPTH) {
    throw new ValidationError([{ path: path.slice(0, 4).join('.'), message: `is nested deeper than ${MAX_JSON_DEPTH} levels` }]);
  }
  for (const key of Object.keys(value)) {
    if (FORBIDDEN_KEYS.has(key)) return [...path, key].join('.');
    const nested = findForbiddenKey((value as Record<string, unknown>)[key], [...path, key]);
    if (nested) return nested;
  }
  return undefined;
}

/** Reads a JSON body: content type, size, syntax, nesting depth and hostile keys, then the schema; 4xx errors name the field. */
export function parseJsonBody<S extends z.ZodMiniType>(event: HttpEvent, schema: S): z.output<S> {
  const contentType = header(event, 'content-type');
  if (!contentType || !/^application\/(.+\+)?json\s*(;|$)/i.test(contentType)) {
    throw new UnsupportedMediaTypeError('the body must be JSON with "Content-Type: application/json"');
  }
  const bytes = bodyBytes(event);
  if (bytes.byteLength > MAX_JSON_BODY_BYTES) throw new PayloadTooLargeError(`the body exceeds ${MAX_JSON_BODY_BYTES} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    throw new MalformedJsonError('the body is not valid UTF-8 JSON', { cause: error });
  }
  const forbidden = findForbiddenKey(value);
  if (forbidden) throw new ValidationError([{ path: forbidden, message: 'is not an allowed key' }]);
  return parseWith(schema, value);
}

export function parseWith<S extends z.ZodMiniType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new ValidationError(toFieldIssues(result.error.issues, value));
  return result.data;
}
