/**
 * The HTTP route table: the single source of truth for the API Gateway routes (infra) and the local router.
 * Route keys have API Gateway's `METHOD /path/{param}` form.
 */
export const DEVICE_API_ROUTES = [
  'POST /v1/devices',
  'GET /v1/devices/{deviceId}',
  'PATCH /v1/devices/{deviceId}',
  'DELETE /v1/devices/{deviceId}',
  'POST /v1/devices/{deviceId}/mailboxes',
  'DELETE /v1/devices/{deviceId}/mailboxes/{mailboxId}',
  'PATCH /v1/devices/{deviceId}/mailboxes/{mailboxId}',
  'PUT /v1/devices/{deviceId}/mailboxes/{mailboxId}/subscription',
  'POST /v1/devices/{deviceId}/mailboxes/{mailboxId}/rotate',
  'GET /v1/devices/{deviceId}/events',
] as const;
export type DeviceApiRoute = (typeof DEVICE_API_ROUTES)[number];

/** The operator API (contract section 8): admin tokens only. */
export const ORG_API_ROUTES = ['PUT /v1/orgs/{orgId}', 'GET /v1/orgs/{orgId}', 'DELETE /v1/orgs/{orgId}', 'POST /v1/orgs/{orgId}/check'] as const;
export type OrgApiRoute = (typeof ORG_API_ROUTES)[number];

/**
 * What mail servers POST to, all served by the callback function: EWS push (contract section 4), and Graph change
 * notifications and lifecycle events (section 7), whose URLs also answer Graph's validation request.
 */
export const CALLBACK_ROUTES = ['POST /v1/callbacks/{secret}', 'POST /v1/graph/notifications/{secret}', 'POST /v1/graph/lifecycle/{secret}'] as const;
export type CallbackRoute = (typeof CALLBACK_ROUTES)[number];

export interface MatchedRoute<R extends string> {
  routeKey: R;
  pathParameters: Record<string, string>;
}

/**
 * Matches a method and path against route keys. Returns the route, or `method-not-allowed` when the path exists
 * under another method, or undefined.
 */
export function matchRoute<R extends string>(routes: readonly R[], method: string, path: string): MatchedRoute<R> | 'method-not-allowed' | undefined {
  let pathMatched = false;
  for (const routeKey of routes) {
    const [routeMethod, pattern] = routeKey.split(' ') as [string, string];
    const params = matchPath(pattern, path);
    if (!params) continue;
    pathMatched = true;
    if (routeMethod === method.toUpperCase()) return { routeKey, pathParameters: params };
  }
  return pathMatched ? 'method-not-allowed' : undefined;
}

function matchPath(pattern: string, path: string): Record<string, string> | undefined {
  const patternParts = pattern.split('/');
  const pathParts = path.split('/');
  if (patternParts.length !== pathParts.length) return undefined;
  const params: Record<string, string> = {};
  for (const [index, part] of patternParts.entries()) {
    const actual = pathParts[index] ?? '';
    if (part.startsWith('{') && part.endsWith('}')) {
      if (actual.length === 0) return undefined;
      let decoded: string;
      try {
        decoded = decodeURIComponent(actual);
      } catch {
        return undefined;
      }
      params[part.slice(1, -1)] = decoded;
    } else if (part !== actual) {
      return undefined;
    }
  }
  return params;
}
