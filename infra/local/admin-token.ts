import { issueAdminToken } from '../../functions/_lib/admin-token.js';
import { LOCAL_ADMIN_TOKEN_SECRET } from './local-defaults.js';

/** `npm run admin-token -- <name> [--expires-in <seconds>]`: prints an operator token signed with ADMIN_TOKEN_SECRET. */
const args = process.argv.slice(2);
const operator = args.find((arg, index) => !arg.startsWith('--') && args[index - 1] !== '--expires-in');
if (!operator) {
  console.error('usage: npm run admin-token -- <name> [--expires-in <seconds>]');
  process.exit(2);
}
const expiresIndex = args.indexOf('--expires-in');
const expiresInSeconds = expiresIndex >= 0 ? Number(args[expiresIndex + 1]) : undefined;
if (expiresInSeconds !== undefined && !(Number.isInteger(expiresInSeconds) && expiresInSeconds > 0)) {
  console.error('--expires-in takes a positive number of seconds');
  process.exit(2);
}
const secret = process.env.ADMIN_TOKEN_SECRET;
if (!secret) console.error('warning: ADMIN_TOKEN_SECRET is not set; signing with the fixed local default.');
console.log(await issueAdminToken(operator, secret || LOCAL_ADMIN_TOKEN_SECRET, expiresInSeconds === undefined ? {} : { expiresInSeconds }));
