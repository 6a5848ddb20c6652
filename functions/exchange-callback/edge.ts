import { buildSendNotificationResult } from '../../shared/ews/send-notification.js';
import { readSendNotification } from '../../shared/ews/inbound.js';
import { RouteNotFoundError } from '../../shared/errors.js';
import { parseChangeNotifications } from '../../shared/graph/change-notifications.js';
import { parseLifecycleNotifications } from '../../shared/graph/lifecycle-notifications.js';
import { VALIDATION_RESPONSE_HEADERS, validationTokenOf } from '../../shared/graph/validation-request.js';
import { bodyBytes, header, httpHandler, type HttpEvent, type HttpHandler, type HttpResult } from '../_lib/http.js';
import { CALLBACK_ROUTES, matchRoute, type CallbackRoute } from '../_lib/routes.js';
import { acceptGraphNotifications, findGraphTarget, type GraphCallbackDeps } from './accept-graph-notifications.js';
import { acceptLifecycleEvents } from './accept-lifecycle-events.js';
import { acceptNotifications } from './accept-notifications.js';

/**
 * The callback function's edge, for every route a mail server POSTs to, behind the HTTP API or the function's own URL:
 * - `POST /v1/callbacks/{secret}`: EWS push; reads the SendNotification and answers a SOAP SendNotificationResult;
 * - `POST /v1/graph/notifications/{secret}` and `/v1/graph/lifecycle/{secret}`: Graph; echoes a validation request,
 *   otherwise reads the notification collection and answers `202 Accepted` once what it brings is queued.
 */
export function createExchangeCallbackHandler(deps: GraphCallbackDeps): HttpHandler {
  return httpHandler(async (event) => {
    const { route, secret } = callbackRouteOf(event);
    switch (route) {
      case 'POST /v1/graph/notifications/{secret}':
        return answerGraph(event, secret, deps, async (body) => acceptGraphNotifications({ secret, batch: parseChangeNotifications(body) }, deps));
      case 'POST /v1/graph/lifecycle/{secret}':
        return answerGraph(event, secret, deps, async (body) => acceptLifecycleEvents({ secret, batch: parseLifecycleNotifications(body) }, deps));
      default: {
        const notifications = readSendNotification(bodyBytes(event), header(event, 'content-type'));
        const status = await acceptNotifications({ secret, notifications }, deps);
        return {
          statusCode: 200,
          headers: { 'content-type': 'text/xml; charset=utf-8', 'cache-control': 'no-store' },
          body: buildSendNotificationResult(status),
        };
      }
    }
  });
}

/** What a Lambda function URL puts in `routeKey`: it has no routes of its own. */
const FUNCTION_URL_ROUTE_KEY = '$default';

/**
 * The route and the secret of a callback, from either entry (infra/config.ts `callbackEndpoint`): API Gateway names the
 * route and its `{secret}`; a Lambda function URL sends every request as payload 2.0 with `routeKey: "$default"` and no
 * `pathParameters`, so its path is matched against the same route table. API Gateway answers a method or path outside
 * the table with 404 itself (the API has no `$default` route), so the function URL answers both with 404 too. The
 * path ends in the secret: it is never logged (nor is the API's path, whose access log holds only the route key).
 */
function callbackRouteOf(event: HttpEvent): { route: CallbackRoute; secret: string } {
  if (event.routeKey === FUNCTION_URL_ROUTE_KEY) {
    const match = matchRoute(CALLBACK_ROUTES, event.requestContext.http.method, event.rawPath);
    if (match === undefined || match === 'method-not-allowed') throw new RouteNotFoundError('no such route');
    return { route: match.routeKey, secret: match.pathParameters.secret! };
  }
  const secret = event.pathParameters?.secret;
  if (!secret) throw new RouteNotFoundError('no callback secret in the path');
  return { route: event.routeKey as CallbackRoute, secret };
}

/**
 * Graph's two answers: the validation echo (`?validationToken=`, within Graph's 10 s: one lookup), else `202` with an
 * empty body once the body's work is queued (within Graph's 3 s). The token is checked before the secret is looked
 * up, and the body before the secret, so that garbage never costs a read.
 */
async function answerGraph(event: HttpEvent, secret: string, deps: GraphCallbackDeps, accept: (body: Uint8Array) => Promise<void>): Promise<HttpResult> {
  const token = validationTokenOf(event.rawQueryString);
  if (token !== undefined) {
    await findGraphTarget(secret, deps);
    deps.counter.count('GraphValidations');
    return { statusCode: 200, headers: { ...VALIDATION_RESPONSE_HEADERS }, body: token };
  }
  await accept(bodyBytes(event));
  return { statusCode: 202, headers: { 'cache-control': 'no-store' } };
}
