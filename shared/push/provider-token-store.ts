/**
 * Where a fleet of gateways keeps the one APNs provider token they all send (contract section 6). Apple answers
 * 429 TooManyProviderTokenUpdates when tokens are renewed more often than every 20 minutes, and it counts a token
 * minted by each Lambda instance as one renewal; with one stored token per signing key the fleet renews once.
 *
 * The token is a bearer credential for an hour: it is stored sealed, never logged, and only the push functions (which
 * hold the signing key) can open it.
 */

/** The fleet's token for one signing key (`keyId` of team `teamId`). */
export interface SharedProviderToken {
  keyId: string;
  teamId: string;
  /**
   * The JWT encrypted under a key derived from the signing key (the adapters' signer seals and opens it): the store
   * never holds a usable bearer token.
   */
  sealedJwt: string;
  /** The token's `iat`, epoch ms. Also what a conditional replace compares. */
  issuedAtMs: number;
}

export interface ProviderTokenStore {
  /** The stored token for this key, or undefined when there is none. */
  read(key: { keyId: string; teamId: string }): Promise<SharedProviderToken | undefined>;
  /**
   * Stores `next` for its key only if the stored token is still the one read before: the one issued at
   * `replacingIssuedAtMs`, or none at all when that is undefined. True when `next` was stored; false when another
   * writer got there first (read again to use the winner's token).
   */
  replace(next: SharedProviderToken, replacingIssuedAtMs: number | undefined): Promise<boolean>;
}
