import { currentGeneration, DEFAULT_ORG_TOKEN_LIFETIME_SECONDS, issueOrgToken } from '../../functions/_lib/org-token.js';
import { LOCAL_ORG_TOKEN_SECRET } from './service.js';

/**
 * `npm run org-token -- <orgId> [--expires-in <seconds> | --no-expiry]`: prints an organization token signed with
 * ORG_TOKEN_SECRET (a plain key or the JSON of docs/operations.md#rotating-secrets) and, on stderr, when it expires.
 * Tokens expire after a year unless told otherwise, and carry the organization's generation as `kid`, so that one
 * organization's tokens can be revoked alone.
 */
const args = process.argv.slice(2);
const USAGE = 'usage: npm run org-token -- <orgId> [--expires-in <seconds> | --no-expiry]';
if (args.includes('--help') || args.includes('-h')) {
  // Asked for: the usage on stdout and success, not the exit 2 of a mistake.
  console.log(USAGE);
  process.exit(0);
}
const expiresIndex = args.indexOf('--expires-in');
const noExpiry = args.includes('--no-expiry');
const orgId = args.find((arg, index) => !arg.startsWith('--') && (expiresIndex < 0 || index !== expiresIndex + 1));
if (!orgId || (noExpiry && expiresIndex >= 0)) {
  console.error(USAGE);
  process.exit(2);
}
const expiresInSeconds = noExpiry ? undefined : expiresIndex >= 0 ? Number(args[expiresIndex + 1]) : DEFAULT_ORG_TOKEN_LIFETIME_SECONDS;
if (expiresInSeconds !== undefined && !(Number.isInteger(expiresInSeconds) && expiresInSeconds > 0)) {
  console.error('--expires-in takes a positive number of seconds');
  process.exit(2);
}
const secret = process.env.ORG_TOKEN_SECRET || LOCAL_ORG_TOKEN_SECRET;
if (!process.env.ORG_TOKEN_SECRET) console.error('warning: ORG_TOKEN_SECRET is not set; signing with the fixed local default.');
const generation = currentGeneration(secret, orgId);
console.log(await issueOrgToken(orgId, secret, { generation, ...(expiresInSeconds === undefined ? {} : { expiresInSeconds }) }));
console.error(
  expiresInSeconds === undefined
    ? `organization ${orgId}, kid org-v${generation}: never expires (revoke by raising its generation)`
    : `organization ${orgId}, kid org-v${generation}: expires ${new Date(Date.now() + expiresInSeconds * 1000).toISOString()}`,
);
