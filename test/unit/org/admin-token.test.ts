import jwt from 'jsonwebtoken';
import { describe, expect, it } from 'vitest';
import { adminTokenKeys, issueAdminToken, verifyAdminToken } from '../../../functions/_lib/admin-token.js';
import { issueOrgToken, verifyOrgToken } from '../../../functions/_lib/org-token.js';
import { UnauthorizedError } from '../../../shared/errors.js';

const ADMIN_SECRET = 'admin-secret-for-tests';
const ORG_SECRET = 'org-secret-for-tests';

describe('admin tokens (contract section 2, v2)', () => {
  it('accepts an admin token and returns the operator name', () => {
    expect(verifyAdminToken(issueAdminToken('alice', ADMIN_SECRET), ADMIN_SECRET)).toBe('alice');
  });

  it('never accepts an org token where an admin token is needed, even signed with the same secret', () => {
    expect(() => verifyAdminToken(issueOrgToken('org-1', ORG_SECRET), ORG_SECRET)).toThrow(UnauthorizedError);
    expect(() => verifyAdminToken(issueOrgToken('org-1', ADMIN_SECRET), ADMIN_SECRET)).toThrow(UnauthorizedError);
  });

  it('is never accepted where an org token is needed, even signed with the same secret', () => {
    expect(() => verifyOrgToken(issueAdminToken('alice', ORG_SECRET), ORG_SECRET)).toThrow(UnauthorizedError);
  });

  it('refuses another algorithm, a bad signature, an expired token and a token without subject', () => {
    const none = jwt.sign({ sub: 'alice', aud: 'admin' }, '', { algorithm: 'none' });
    expect(() => verifyAdminToken(none, ADMIN_SECRET)).toThrow(UnauthorizedError);
    const hs512 = jwt.sign({}, ADMIN_SECRET, { algorithm: 'HS512', subject: 'alice', audience: 'admin' });
    expect(() => verifyAdminToken(hs512, ADMIN_SECRET)).toThrow(UnauthorizedError);
    expect(() => verifyAdminToken(issueAdminToken('alice', 'another-secret'), ADMIN_SECRET)).toThrow(UnauthorizedError);
    const expired = issueAdminToken('alice', ADMIN_SECRET, { expiresInSeconds: 60 });
    expect(() => verifyAdminToken(expired, ADMIN_SECRET, Date.now() + 120_000)).toThrow(UnauthorizedError);
    const anonymous = jwt.sign({}, ADMIN_SECRET, { algorithm: 'HS256', audience: 'admin' });
    expect(() => verifyAdminToken(anonymous, ADMIN_SECRET)).toThrow(UnauthorizedError);
  });

  it('accepts tokens of the current and the previous secret during a rotation', () => {
    const old = issueAdminToken('alice', 'previous-secret');
    expect(verifyAdminToken(old, ['current-secret', 'previous-secret'])).toBe('alice');
    expect(() => verifyAdminToken(old, ['current-secret'])).toThrow(UnauthorizedError);
  });
});

describe('the admin-token secret value', () => {
  it('is a plain key, or {current, previous} during a rotation', () => {
    expect(adminTokenKeys('plain-key')).toEqual(['plain-key']);
    expect(adminTokenKeys('{"current":"new","previous":"old"}')).toEqual(['new', 'old']);
    expect(verifyAdminToken(issueAdminToken('alice', 'old'), adminTokenKeys('{"current":"new","previous":"old"}'))).toBe('alice');
  });

  it('refuses malformed JSON without echoing it', () => {
    expect(() => adminTokenKeys('{"current": "s3cret-value"')).toThrow(/not valid JSON/);
    expect(() => adminTokenKeys('{"previous":"s3cret-value"}')).toThrow(/not \{current, previous\?\}/);
    expect(() => adminTokenKeys('{"previous":"s3cret-value"}')).not.toThrow(/s3cret-value/);
  });
});
