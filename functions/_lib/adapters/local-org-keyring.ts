import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { OrgKeyring } from '../../../shared/org/ports.js';
import { open, seal } from '../org-secrets.js';

/** The local key file's name under DATA_DIR. */
export const LOCAL_ORG_KEY_FILE = 'org-secrets.key';

/**
 * `npm start`'s stand-in for KMS: organizations' data keys wrapped (AES-256-GCM, bound to the org id) with a 256-bit key
 * kept in `DATA_DIR/org-secrets.key` (created on first start, mode 0600), or held in memory only with `:memory:`. The
 * stored passwords and client secrets are as safe as that file.
 */
export class LocalOrgKeyring implements OrgKeyring {
  private constructor(
    private readonly masterKey: Uint8Array,
    readonly description: string,
  ) {}

  static inMemory(): LocalOrgKeyring {
    return new LocalOrgKeyring(randomBytes(32), 'a key held in memory only (DATA_DIR=:memory:)');
  }

  static async underDataDir(dataDir: string): Promise<LocalOrgKeyring> {
    const file = path.resolve(dataDir, LOCAL_ORG_KEY_FILE);
    let key: Buffer;
    try {
      key = Buffer.from((await readFile(file, 'utf8')).trim(), 'base64url');
      if (key.byteLength !== 32) throw new Error(`${file} does not hold a 256-bit key`);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      key = randomBytes(32);
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, `${key.toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
      await chmod(file, 0o600);
    }
    return new LocalOrgKeyring(key, `a local key in ${file}`);
  }

  async newDataKey(orgId: string): Promise<{ dataKey: Uint8Array; wrapped: string }> {
    const dataKey = randomBytes(32);
    return { dataKey, wrapped: seal(this.masterKey, `data-key\u0000${orgId}`, dataKey.toString('base64url')) };
  }

  async openDataKey(orgId: string, wrapped: string): Promise<Uint8Array> {
    return Buffer.from(open(this.masterKey, `data-key\u0000${orgId}`, wrapped), 'base64url');
  }
}

/**
 * Keeps opened data keys for a while, so the dispatcher asks KMS once per org per container and cache period instead
 * of once per mail. Keyed by the wrapped value, so a re-keyed org never gets a stale key.
 */
export class CachingOrgKeyring implements OrgKeyring {
  private readonly opened = new Map<string, { key: Uint8Array; until: number }>();

  constructor(
    private readonly inner: OrgKeyring,
    private readonly options: { ttlMs: number; now: () => number } = { ttlMs: 15 * 60_000, now: Date.now },
  ) {}

  get description(): string {
    return this.inner.description;
  }

  newDataKey(orgId: string): Promise<{ dataKey: Uint8Array; wrapped: string }> {
    return this.inner.newDataKey(orgId);
  }

  async openDataKey(orgId: string, wrapped: string): Promise<Uint8Array> {
    const cacheKey = `${orgId}\u0000${wrapped}`;
    const hit = this.opened.get(cacheKey);
    if (hit && hit.until > this.options.now()) return hit.key;
    const key = await this.inner.openDataKey(orgId, wrapped);
    this.opened.set(cacheKey, { key, until: this.options.now() + this.options.ttlMs });
    return key;
  }
}
