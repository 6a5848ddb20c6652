import { RouteNotFoundError } from '../../shared/errors.js';
import { OrgNotFoundError } from '../../shared/org/org-errors.js';
import { orgIdSchema, putOrgRequestSchema } from '../../shared/org/org-schemas.js';
import { adminTokenKeys, verifyAdminToken } from '../_lib/admin-token.js';
import type { SecretSource } from '../_lib/secret-cache.js';
import { bearerToken, httpHandler, json, noContent, parseJsonBody, type HttpEvent, type HttpHandler, type HttpResult } from '../_lib/http.js';
import type { OrgApiRoute } from '../_lib/routes.js';
import { checkOrg, deleteOrg, getOrg, putOrg, type OrgApiDeps } from './manage-org.js';

export interface OrgApiHandlerDeps extends OrgApiDeps {
  /**
   * The admin-token secret's value (a key, or `{current, previous}` during a rotation), or its source: on AWS a cached
   * read of Secrets Manager, re-read every few minutes so a rotation needs no redeploy (functions/_lib/secret-cache.ts).
   */
  adminTokenSecret: string | SecretSource;
}

/** The operator API (contract section 8): every route needs an admin token (an org token is refused, 401). */
export function createOrgApiHandler(deps: OrgApiHandlerDeps): HttpHandler {
  return httpHandler((event) => routeOrgApi(event, deps));
}

async function routeOrgApi(event: HttpEvent, deps: OrgApiHandlerDeps): Promise<HttpResult> {
  const secret = typeof deps.adminTokenSecret === 'string' ? deps.adminTokenSecret : await deps.adminTokenSecret();
  await verifyAdminToken(bearerToken(event), adminTokenKeys(secret), deps.now());
  const parsedOrgId = orgIdSchema.safeParse(event.pathParameters?.orgId);
  if (!parsedOrgId.success) throw new OrgNotFoundError();
  const orgId = parsedOrgId.data;
  switch (event.routeKey as OrgApiRoute) {
    case 'PUT /v1/orgs/{orgId}':
      return json(200, await putOrg({ orgId, request: parseJsonBody(event, putOrgRequestSchema) }, deps));
    case 'GET /v1/orgs/{orgId}':
      return json(200, await getOrg(orgId, deps));
    case 'POST /v1/orgs/{orgId}/check':
      return json(200, await checkOrg(orgId, deps));
    case 'DELETE /v1/orgs/{orgId}':
      await deleteOrg(orgId, deps);
      return noContent();
    default:
      throw new RouteNotFoundError(`no route for ${event.routeKey}`);
  }
}
