import jwt from 'jsonwebtoken';
import { describe, expect, it } from 'vitest';
import { adminTokenKeys, issueAdminToken, verifyAdminToken } from '../../../functions/_lib/admin-token.js';
import { issueOrgToken, verifyOrgToken } from '../../../functions/_lib/org-token.js';
import { UnauthorizedError } from '../../../shared/errors.js';

const ADMIN_SECRET = 'admin-secret-for-tests';
const ORG_SECRET = 'org-secret-for-tests';

describe('admin tokens (contract section 2, v2)', () => {
  it('accepts an admin token and returns the operator name', async () => {
    expect(await verifyAdminToken(await issueAdminToken('alice', ADMIN_SECRET), ADMIN_SECRET)).toBe('alice');
  });

  it('never accepts an org token where an admin token is needed, even signed with the same secret', async () => {
    await expect(verifyAdminToken(await issueOrgToken('org-1', ORG_SECRET), ORG_SECRET)).rejects.toThrow(UnauthorizedError);
    await expect(verifyAdminToken(await issueOrgToken('org-1', ADMIN_SECRET), ADMIN_SECRET)).rejects.toThrow(UnauthorizedError);
  });

  it('is never accepted where an org token is needed, even signed with the same secret', async () => {
    await expect(verifyOrgToken(await issueAdminToken('alice', ORG_SECRET), ORG_SECRET)).rejects.toThrow(UnauthorizedError);
  });

  it('refuses another algorithm, a bad signature, an expired token and a token without subject', async () => {
    const none = jwt.sign({ sub: 'alice', aud: 'admin' }, '', { algorithm: 'none' });
    await expect(verifyAdminToken(none, ADMIN_SECRET)).rejects.toThrow(UnauthorizedError);
    const hs512 = jwt.sign({}, ADMIN_SECRET, { algorithm: 'HS512', subject: 'alice', audience: 'admin' });
    await expect(verifyAdminToken(hs512, ADMIN_SECRET)).rejects.toThrow(UnauthorizedError);
    await expect(verifyAdminToken(await issueAdminToken('alice', 'another-secret'), ADMIN_SECRET)).rejects.toThrow(UnauthorizedError);
    const expired = await issueAdminToken('alice', ADMIN_SECRET, { expiresInSeconds: 60 });
    await expect(verifyAdminToken(expired, ADMIN_SECRET, Date.now() + 120_000)).rejects.toThrow(UnauthorizedError);
    const anonymous = jwt.sign({}, ADMIN_SECRET, { algorithm: 'HS256', audience: 'admin' });
    await expect(verifyAdminToken(anonymous, ADMIN_SECRET)).rejects.toThrow(UnauthorizedError);
  });

  it('accepts tokens of the current and the previous secret during a rotation', async () => {
    const old = await issueAdminToken('alice', 'previous-secret');
    expect(await verifyAdminToken(old, ['current-secret', 'previous-secret'])).toBe('alice');
    await expect(verifyAdminToken(old, ['current-secret'])).rejects.toThrow(UnauthorizedError);
  });
});

describe('the admin-token secret value', () => {
  it('is a plain key, or {current, previous} during a rotation', async () => {
    expect(adminTokenKeys('plain-key')).toEqual(['plain-key']);
    expect(adminTokenKeys('{"current":"new","previous":"old"}')).toEqual(['new', 'old']);
    expect(await verifyAdminToken(await issueAdminToken('alice', 'old'), adminTokenKeys('{"current":"new","previous":"old"}'))).toBe('alice');
  });

  it('refuses malformed JSON without echoing it', () => {
    expect(() => adminTokenKeys('{"current": "s3cret-value"')).toThrow(/not valid JSON/);
    expect(() => adminTokenKeys('{"previous":"s3cret-value"}')).toThrow(/not \{current, previous\?\}/);
    expect(() => adminTokenKeys('{"previous":"s3cret-value"}')).not.toThrow(/s3cret-value/);
  });
});
