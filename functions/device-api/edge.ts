import {
  addMailboxRequestSchema,
  mailboxIdSchema,
  patchDeviceRequestSchema,
  registerDeviceRequestSchema,
  reportSubscriptionRequestSchema,
} from '../../shared/device/device-schemas.js';
import { MailboxNotFoundError, RouteNotFoundError } from '../../shared/errors.js';
import { bearerToken, httpHandler, json, noContent, parseJsonBody, type HttpEvent, type HttpHandler, type HttpResult } from '../_lib/http.js';
import type { DeviceApiRoute } from '../_lib/routes.js';
import { authenticateDevice } from './authenticate-device.js';
import type { DeviceApiDeps } from './deps.js';
import { addDelegatedMailbox } from './add-delegated-mailbox.js';
import { deleteDevice } from './delete-device.js';
import { getDevice } from './get-device.js';
import { listDecisions } from './list-decisions.js';
import { removeMailbox } from './remove-mailbox.js';
import { reportSubscription } from './report-subscription.js';
import { rotateMailbox } from './rotate-mailbox.js';
import { registerDevice } from './register-device.js';
import { updateDevice } from './update-device.js';
import { updateMailbox } from './update-mailbox.js';
import { patchMailboxRequestSchema } from '../../shared/org/device-org-fields.js';

/** The device API's edge: one function behind every `/v1/devices` route; each route is auth + parse + one use case. */
export function createDeviceApiHandler(deps: DeviceApiDeps): HttpHandler {
  return httpHandler((event) => routeDeviceApi(event, deps));
}

async function routeDeviceApi(event: HttpEvent, deps: DeviceApiDeps): Promise<HttpResult> {
  const route = event.routeKey as DeviceApiRoute;
  if (route === 'POST /v1/devices') {
    const token = bearerToken(event);
    const secret = typeof deps.orgTokenSecret === 'string' ? deps.orgTokenSecret : await deps.orgTokenSecret();
    // The JWT verifier (jose) is loaded by the first registration, not by every cold start: the device API's other
    // routes authenticate with the device secret.
    const { verifyOrgToken } = await import('../_lib/org-token.js');
    const orgId = await verifyOrgToken(token, secret, deps.now());
    const request = parseJsonBody(event, registerDeviceRequestSchema);
    return json(201, await registerDevice({ orgId, request }, deps));
  }

  const deviceId = event.pathParameters?.deviceId;
  if (!deviceId) throw new RouteNotFoundError(`no route for ${event.routeKey}`);
  const device = await authenticateDevice(deviceId, bearerToken(event), deps);

  switch (route) {
    case 'GET /v1/devices/{deviceId}':
      return json(200, await getDevice(device, deps));
    case 'PATCH /v1/devices/{deviceId}':
      return json(200, await updateDevice({ device, patch: parseJsonBody(event, patchDeviceRequestSchema) }, deps));
    case 'DELETE /v1/devices/{deviceId}':
      await deleteDevice(device, deps);
      return noContent();
    case 'POST /v1/devices/{deviceId}/mailboxes':
      return json(201, await addDelegatedMailbox({ device, request: parseJsonBody(event, addMailboxRequestSchema) }, deps));
    case 'DELETE /v1/devices/{deviceId}/mailboxes/{mailboxId}':
      await removeMailbox({ device, mailboxId: mailboxIdParam(event) }, deps);
      return noContent();
    case 'PATCH /v1/devices/{deviceId}/mailboxes/{mailboxId}':
      return json(200, await updateMailbox({ device, mailboxId: mailboxIdParam(event), patch: parseJsonBody(event, patchMailboxRequestSchema) }, deps));
    case 'PUT /v1/devices/{deviceId}/mailboxes/{mailboxId}/subscription':
      await reportSubscription({ device, mailboxId: mailboxIdParam(event), request: parseJsonBody(event, reportSubscriptionRequestSchema) }, deps);
      return noContent();
    case 'POST /v1/devices/{deviceId}/mailboxes/{mailboxId}/rotate':
      return json(200, await rotateMailbox({ device, mailboxId: mailboxIdParam(event) }, deps));
    case 'GET /v1/devices/{deviceId}/events':
      return json(200, await listDecisions(device, deps));
    default:
      throw new RouteNotFoundError(`no route for ${event.routeKey}`);
  }
}

function mailboxIdParam(event: HttpEvent): string {
  const parsed = mailboxIdSchema.safeParse(event.pathParameters?.mailboxId);
  if (!parsed.success) throw new MailboxNotFoundError();
  return parsed.data;
}
