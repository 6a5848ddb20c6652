import { issueOrgToken } from '../../functions/_lib/org-token.js';
import { LOCAL_ORG_TOKEN_SECRET } from './service.js';

/** `npm run org-token -- <orgId> [--expires-in <seconds>]`: prints an organization token signed with ORG_TOKEN_SECRET. */
const args = process.argv.slice(2);
const USAGE = 'usage: npm run org-token -- <orgId> [--expires-in <seconds>]';
if (args.includes('--help') || args.includes('-h')) {
  // Asked for: the usage on stdout and success, not the exit 2 of a mistake.
  console.log(USAGE);
  process.exit(0);
}
const orgId = args.find((arg) => !arg.startsWith('--'));
if (!orgId) {
  console.error(USAGE);
  process.exit(2);
}
const expiresIndex = args.indexOf('--expires-in');
const expiresInSeconds = expiresIndex >= 0 ? Number(args[expiresIndex + 1]) : undefined;
if (expiresInSeconds !== undefined && !(Number.isInteger(expiresInSeconds) && expiresInSeconds > 0)) {
  console.error('--expires-in takes a positive number of seconds');
  process.exit(2);
}
const secret = process.env.ORG_TOKEN_SECRET;
if (!secret) console.error('warning: ORG_TOKEN_SECRET is not set; signing with the fixed local default.');
console.log(issueOrgToken(orgId, secret || LOCAL_ORG_TOKEN_SECRET, expiresInSeconds === undefined ? {} : { expiresInSeconds }));
