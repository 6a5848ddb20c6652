import { buildSendNotificationResult } from '../../shared/ews/send-notification.js';
import { RouteNotFoundError } from '../../shared/errors.js';
import { bodyBytes, header, httpHandler, type HttpHandler } from '../_lib/http.js';
import { handleExchangeCallback, type CallbackDeps } from './handle-exchange-callback.js';

/** The Exchange callback function: `POST /v1/callbacks/{secret}` answers a SOAP SendNotificationResult. */
export function createExchangeCallbackHandler(deps: CallbackDeps): HttpHandler {
  return httpHandler(async (event) => {
    const secret = event.pathParameters?.secret;
    if (!secret) throw new RouteNotFoundError('no callback secret in the path');
    const status = await handleExchangeCallback({ secret, contentType: header(event, 'content-type'), body: bodyBytes(event) }, deps);
    return {
      statusCode: 200,
      headers: { 'content-type': 'text/xml; charset=utf-8', 'cache-control': 'no-store' },
      body: buildSendNotificationResult(status),
    };
  });
}
