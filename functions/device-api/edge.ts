import {
  addMailboxRequestSchema,
  mailboxIdSchema,
  patchDeviceRequestSchema,
  registerDeviceRequestSchema,
  reportSubscriptionRequestSchema,
} from '../../shared/device/device-schemas.js';
import { MailboxNotFoundError, RouteNotFoundError, ValidationError } from '../../shared/errors.js';
import { OrganizationModeOffError } from '../../shared/org/org-errors.js';
import type * as z from '../../shared/zod.js';
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
    const request = await parseDeviceBody(event, registerDeviceRequestSchema, orgId, deps);
    return json(201, await registerDevice({ orgId, request }, deps));
  }

  const deviceId = event.pathParameters?.deviceId;
  if (!deviceId) throw new RouteNotFoundError(`no route for ${event.routeKey}`);
  const device = await authenticateDevice(deviceId, bearerToken(event), deps);

  switch (route) {
    case 'GET /v1/devices/{deviceId}':
      return json(200, await getDevice(device, deps));
    case 'PATCH /v1/devices/{deviceId}':
      return json(200, await updateDevice({ device, patch: await parseDeviceBody(event, patchDeviceRequestSchema, device.orgId, deps) }, deps));
    case 'DELETE /v1/devices/{deviceId}':
      await deleteDevice(device, deps);
      return noContent();
    case 'POST /v1/devices/{deviceId}/mailboxes':
      return json(201, await addDelegatedMailbox({ device, request: await parseDeviceBody(event, addMailboxRequestSchema, device.orgId, deps) }, deps));
    case 'DELETE /v1/devices/{deviceId}/mailboxes/{mailboxId}':
      await removeMailbox({ device, mailboxId: mailboxIdParam(event) }, deps);
      return noContent();
    case 'PATCH /v1/devices/{deviceId}/mailboxes/{mailboxId}':
      return json(200, await updateMailbox({ device, mailboxId: mailboxIdParam(event), patch: await parseDeviceBody(event, patchMailboxRequestSchema, device.orgId, deps) }, deps));
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

/** A validation issue's path that names an organization-mode field (contract sections 3 and 8), and that field. */
const ORGANIZATION_FIELD = /^((?:mailboxes\.\d+\.)?(?:vipSenders|alertKey|address|addressProof|managedBy))(?:\.|$)/;

/**
 * Parses a device body. In the default mode the contract refuses organization-mode fields with
 * `organization_mode_off` whatever they hold, so one that is also malformed is refused as such, not as
 * `invalid_request`: the org is read only then, on the way to a 400.
 */
async function parseDeviceBody<S extends z.ZodMiniType>(event: HttpEvent, schema: S, orgId: string, deps: Pick<DeviceApiDeps, 'orgs'>): Promise<z.output<S>> {
  try {
    return parseJsonBody(event, schema);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    const fields = [...new Set(error.issues.flatMap((issue) => ORGANIZATION_FIELD.exec(issue.path)?.[1] ?? []))];
    if (fields.length === 0 || (await deps.orgs.getOrg(orgId))) throw error;
    throw new OrganizationModeOffError(fields);
  }
}

function mailboxIdParam(event: HttpEvent): string {
  const parsed = mailboxIdSchema.safeParse(event.pathParameters?.mailboxId);
  if (!parsed.success) throw new MailboxNotFoundError();
  return parsed.data;
}
