/**
 * Secrets `npm start` uses when none is configured, each with a warning at startup. Never deploy with them: on AWS
 * every secret is required (contract section 8).
 */
export const LOCAL_ADMIN_TOKEN_SECRET = 'inbox-relay-local-admin-token-secret-do-not-deploy';
