import { buildSendNotificationResult } from '../../shared/ews/send-notification.js';
import { readSendNotification } from '../../shared/ews/inbound.js';
import { RouteNotFoundError } from '../../shared/errors.js';
import { bodyBytes, header, httpHandler, type HttpHandler } from '../_lib/http.js';
import { acceptNotifications, type CallbackDeps } from './accept-notifications.js';

/**
 * The Exchange callback's edge: `POST /v1/callbacks/{secret}` reads the SendNotification (EWS), lets the use case
 * accept it, and answers a SOAP SendNotificationResult.
 */
export function createExchangeCallbackHandler(deps: CallbackDeps): HttpHandler {
  return httpHandler(async (event) => {
    const secret = event.pathParameters?.secret;
    if (!secret) throw new RouteNotFoundError('no callback secret in the path');
    const notifications = readSendNotification(bodyBytes(event), header(event, 'content-type'));
    const status = await acceptNotifications({ secret, notifications }, deps);
    return {
      statusCode: 200,
      headers: { 'content-type': 'text/xml; charset=utf-8', 'cache-control': 'no-store' },
      body: buildSendNotificationResult(status),
    };
  });
}
