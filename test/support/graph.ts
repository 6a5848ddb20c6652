import type { HttpHandler, HttpResult } from '../../functions/_lib/http.js';
import { localLambdaContext } from '../../infra/local/lambda-context.js';
/** Graph change notification bodies and requests, as Microsoft Graph sends them (GRAPH change-notifications-delivery-webhooks.md). */

export interface GraphItemSpec {
  subscriptionId: string;
  clientState: string;
  messageId: string;
  changeType?: string;
}

/** One item of `value`: a basic (no resource data) Outlook message notification. */
export function messageItem(spec: GraphItemSpec): Record<string, unknown> {
  return {
    subscriptionId: spec.subscriptionId,
    subscriptionExpirationDateTime: new Date(Date.now() + 86_400_000).toISOString(),
    changeType: spec.changeType ?? 'created',
    resource: `Users/00000000-0000-0000-0000-000000000001/Messages/${spec.messageId}`,
    clientState: spec.clientState,
    tenantId: '84bd8158-6d4d-4958-8b9f-9d6445542f95',
    resourceData: {
      '@odata.type': '#Microsoft.Graph.Message',
      '@odata.id': `Users/00000000-0000-0000-0000-000000000001/Messages/${spec.messageId}`,
      '@odata.etag': 'W/"CQAAABYAAADkrWGo7bouTKlsgTZMr9KwAAAUWRHf"',
      id: spec.messageId,
    },
  };
}

export function lifecycleItem(spec: { subscriptionId: string; clientState: string; lifecycleEvent: string }): Record<string, unknown> {
  return {
    subscriptionId: spec.subscriptionId,
    subscriptionExpirationDateTime: new Date(Date.now() + 86_400_000).toISOString(),
    tenantId: '84bd8158-6d4d-4958-8b9f-9d6445542f95',
    clientState: spec.clientState,
    lifecycleEvent: spec.lifecycleEvent,
  };
}

export const graphBody = (items: unknown[]): string => JSON.stringify({ value: items });

export interface GraphAnswer {
  status: number;
  contentType: string | null;
  body: string;
}

/** POSTs as Graph does: JSON, or with `?validationToken=` (form-encoded) and an empty text/plain body. */
export async function postGraph(url: string, body: string | Uint8Array, options: { validationToken?: string } = {}): Promise<GraphAnswer> {
  const target = options.validationToken === undefined ? url : `${url}?${new URLSearchParams({ validationToken: options.validationToken })}`;
  const response = await fetch(target, {
    method: 'POST',
    headers: { 'content-type': options.validationToken === undefined ? 'application/json' : 'text/plain; charset=utf-8' },
    body,
  });
  return { status: response.status, contentType: response.headers.get('content-type'), body: await response.text() };
}


export type GraphRoute = 'POST /v1/graph/notifications/{secret}' | 'POST /v1/graph/lifecycle/{secret}';

/** Calls the callback function's handler as API Gateway would for a Graph route: the bytes as sent, the raw query. */
export function graphCaller(handler: HttpHandler) {
  return async (route: GraphRoute, secret: string, body: string | Uint8Array, rawQueryString = ''): Promise<{ status: number; headers: Record<string, unknown>; body: string }> => {
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body);
    const result = (await handler(
      {
        version: '2.0',
        routeKey: route,
        rawPath: '/',
        rawQueryString,
        headers: { 'content-type': 'application/json' },
        pathParameters: { secret },
        requestContext: {} as never,
        body: bytes.toString('base64'),
        isBase64Encoded: true,
      },
      localLambdaContext('exchange-callback'),
    )) as HttpResult;
    return { status: result.statusCode ?? 0, headers: (result.headers ?? {}) as Record<string, unknown>, body: result.body ?? '' };
  };
}
