import type { ProviderTokenStore, SharedProviderToken } from '../push/provider-token-store.js';

/** ProviderTokenStore in memory, for tests: the same compare-and-set rule as DynamoDbProviderTokenStore. */
export class InMemoryProviderTokenStore implements ProviderTokenStore {
  private readonly tokens = new Map<string, SharedProviderToken>();

  async read(key: { keyId: string; teamId: string }): Promise<SharedProviderToken | undefined> {
    const stored = this.tokens.get(keyOf(key));
    return stored === undefined ? undefined : { ...stored };
  }

  async replace(next: SharedProviderToken, replacingIssuedAtMs: number | undefined): Promise<boolean> {
    const stored = this.tokens.get(keyOf(next));
    if (stored?.issuedAtMs !== replacingIssuedAtMs) return false;
    this.tokens.set(keyOf(next), { ...next });
    return true;
  }
}

function keyOf(key: { keyId: string; teamId: string }): string {
  return `${key.teamId}#${key.keyId}`;
}
