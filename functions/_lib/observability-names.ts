/**
 * Powertools' service name and metrics namespace, set in code (powertools.ts) and nowhere else: Powertools lets a
 * constructor option win over its POWERTOOLS_* environment variable, so the code is what counts, in Lambda and in
 * `npm start` alike. The monitoring construct imports them for its alarms and dashboard.
 */
export const SERVICE_NAME = 'inbox-relay';
export const METRICS_NAMESPACE = 'InboxRelay';
