import type { ProviderTokenStore } from '../../../shared/push/provider-token-store.js';
import {
  APNS_TOKEN_MIN_AGE_MS,
  checkedRefreshAfterMs,
  type ApnsTokenSigner,
  type ApnsTokenSource,
  type MintedToken,
  type ProviderTokenRefusal,
} from './apns-provider-token.js';

/**
 * One APNs provider token for every instance of every push function (issue 15): Apple counts each newly minted
 * token as an update and answers 429 TooManyProviderTokenUpdates when they come faster than every 20 minutes, which
 * a fleet of Lambda instances each minting its own does at any real concurrency.
 *
 * The token lives in a ProviderTokenStore, one per signing key. An instance reads it on its first push and keeps it in
 * memory; once it is `refreshAfterMs` old (default 50 minutes, so between Apple's 20 and 60), the first instance to
 * notice mints a new one and stores it with a conditional write; an instance whose write loses reads and uses the
 * winner's. The store holds the token sealed under a key derived from the signing key (ApnsTokenSigner.seal), and a
 * stored token is used only if it opens and this key signed it (same key id and team, valid signature), so after a
 * key rotation the new key's token is minted afresh and never mixed with the old one.
 *
 * When the store cannot be read or written, the instance mints its own token as before the fleet token existed: a
 * push is worth more than the rate rule, and the next TooManyProviderTokenUpdates brings it back to the shared one.
 */

export interface FleetProviderTokenOptions {
  signer: ApnsTokenSigner;
  store: ProviderTokenStore;
  /** Epoch ms; defaults to `Date.now`. */
  clock?: () => number;
  /** Age after which the fleet's token is replaced; between 20 and 60 minutes, default 50. */
  refreshAfterMs?: number;
  /** Told when the store failed and this instance fell back to its own token. Never given the token. */
  onStoreError?: (error: unknown) => void;
}

type Sync = { kind: 'fresh' } | { kind: 'replace'; refused: string } | { kind: 'adopt'; refused: string };

export class FleetProviderToken implements ApnsTokenSource {
  private readonly signer: ApnsTokenSigner;
  private readonly store: ProviderTokenStore;
  private readonly clock: () => number;
  private readonly refreshAfterMs: number;
  private readonly onStoreError: ((error: unknown) => void) | undefined;
  private cached: MintedToken | undefined;
  /** Concurrent pushes of one instance wait for one store round trip, not one each. */
  private syncing: Promise<MintedToken> | undefined;

  constructor(opts: FleetProviderTokenOptions) {
    this.signer = opts.signer;
    this.store = opts.store;
    this.clock = opts.clock ?? Date.now;
    this.refreshAfterMs = checkedRefreshAfterMs(opts.refreshAfterMs);
    this.onStoreError = opts.onStoreError;
  }

  async current(): Promise<string> {
    const cached = this.cached;
    if (cached !== undefined && this.clock() - cached.issuedAtMs < this.refreshAfterMs) return cached.jwt;
    return (await this.sync({ kind: 'fresh' })).jwt;
  }

  /**
   * ExpiredProviderToken: Apple's clock calls `jwt` over an hour old. It is replaced, once for the fleet, if it is at
   * least 20 minutes old by ours; a younger one is kept, since replacing it would earn TooManyProviderTokenUpdates.
   * TooManyProviderTokenUpdates: this instance's token is not the fleet's (it minted its own while the store was
   * down, or lost a race unseen); it takes the stored one if that differs and never mints because of it.
   */
  async refused(jwt: string, reason: ProviderTokenRefusal): Promise<void> {
    const cached = this.cached;
    if (cached === undefined || cached.jwt !== jwt) return;
    if (reason === 'ExpiredProviderToken') {
      if (this.clock() - cached.issuedAtMs < APNS_TOKEN_MIN_AGE_MS) return;
      await this.sync({ kind: 'replace', refused: jwt });
    } else {
      await this.sync({ kind: 'adopt', refused: jwt });
    }
  }

  private sync(mode: Sync): Promise<MintedToken> {
    this.syncing ??= this.syncWithStore(mode).finally(() => {
      this.syncing = undefined;
    });
    return this.syncing;
  }

  private async syncWithStore(mode: Sync): Promise<MintedToken> {
    const key = { keyId: this.signer.keyId, teamId: this.signer.teamId };
    const now = this.clock();
    const refused = mode.kind === 'fresh' ? undefined : mode.refused;
    const usable = (sealed: string | undefined): MintedToken | undefined => {
      const token = sealed === undefined ? undefined : this.signer.unseal(sealed);
      if (token === undefined || token.jwt === refused) return undefined;
      return now - token.issuedAtMs < this.refreshAfterMs ? token : undefined;
    };

    let stored;
    try {
      stored = await this.store.read(key);
    } catch (error) {
      return this.fallBack(now, mode, error);
    }
    const shared = usable(stored?.sealedJwt);
    if (shared !== undefined) return this.use(shared);
    if (mode.kind === 'adopt') return this.cached ?? this.use(this.signer.mint(now));

    const minted = this.signer.mint(now);
    try {
      const next = { ...key, sealedJwt: this.signer.seal(minted), issuedAtMs: minted.issuedAtMs };
      if (await this.store.replace(next, stored?.issuedAtMs)) return this.use(minted);
      // Another instance stored its token between our read and write: that one is the fleet's now.
      const winner = usable((await this.store.read(key))?.sealedJwt);
      return this.use(winner ?? minted);
    } catch (error) {
      return this.fallBack(now, mode, error, minted);
    }
  }

  private fallBack(now: number, mode: Sync, error: unknown, minted?: MintedToken): MintedToken {
    this.onStoreError?.(error);
    const cached = this.cached;
    if (mode.kind === 'adopt' && cached !== undefined) return cached;
    return this.use(minted ?? this.signer.mint(now));
  }

  private use(token: MintedToken): MintedToken {
    this.cached = token;
    return token;
  }
}
