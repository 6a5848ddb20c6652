import type { DecisionLog, DeviceReader, DeviceRegistry, MailboxRegistry } from '../../shared/store/ports.js';
import type { PushEndpointRegistry } from '../../shared/push/push-gateway.js';
import type { SecretSource } from '../_lib/secret-cache.js';

/** What the device API's use cases need; the handler wires AWS adapters, tests wire in-memory ones. */
export interface DeviceApiDeps {
  devices: DeviceReader;
  registry: DeviceRegistry;
  mailboxes: MailboxRegistry;
  decisions: DecisionLog;
  endpoints: PushEndpointRegistry;
  /** Base of the callback URLs handed out (contract: PUBLIC_URL). */
  publicUrl: string;
  /**
   * The organization-token secret's value (functions/_lib/org-token.ts), or its source: on AWS a cached read of
   * Secrets Manager, re-read every few minutes so a rotation or revocation needs no redeploy.
   */
  orgTokenSecret: string | SecretSource;
  now: () => number;
  /** Uniform in [0, 1): spreads interval-mode schedules (injected for tests). */
  random: () => number;
}

export const CALLBACK_PATH_PREFIX = '/v1/callbacks/';

export function callbackUrl(publicUrl: string, secret: string): string {
  return `${publicUrl.replace(/\/+$/, '')}${CALLBACK_PATH_PREFIX}${secret}`;
}
