import { LocalOrgKeyring } from '../../functions/_lib/adapters/local-org-keyring.js';
import { messageDetailsReaders } from '../../functions/_lib/adapters/message-details-readers.js';
import type { MessageDetailsReaderFactory, OrgKeyring } from '../../shared/org/ports.js';
import { InMemoryOrgStore } from '../../shared/store/in-memory-org-store.js';

/**
 * The organization-mode deps of the device API for use-case tests and benchmarks: an empty org store (every org in
 * the default mode), an in-memory keyring, and readers that may reach played mail servers on loopback.
 */
export function organizationDeps(): { orgs: InMemoryOrgStore; keyring: OrgKeyring; readers: MessageDetailsReaderFactory } {
  return { orgs: new InMemoryOrgStore(), keyring: LocalOrgKeyring.inMemory(), readers: messageDetailsReaders({ allowLoopback: true }) };
}
