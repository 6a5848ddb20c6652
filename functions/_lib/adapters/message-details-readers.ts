import type { MessageDetailsReaderFactory } from '../../../shared/org/ports.js';
import type { OutboundPolicy } from '../outbound-address-policy.js';
import { ewsMessageDetailsReader } from './ews-message-details-reader.js';
import { graphMessageDetailsReader } from './graph-message-details-reader.js';

/** The reader for an org's mail server, by its type: EWS GetItem with impersonation, or Microsoft Graph app-only. */
export function messageDetailsReaders(policy: OutboundPolicy, budgetMs?: number): MessageDetailsReaderFactory {
  const options = { policy, ...(budgetMs === undefined ? {} : { budgetMs }) };
  return (server, secret) => (server.type === 'ews' ? ewsMessageDetailsReader(server, secret, options) : graphMessageDetailsReader(server, secret, options));
}
