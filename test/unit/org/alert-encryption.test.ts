import { compactDecrypt, decodeProtectedHeader, importJWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { alertKeyId, assertUsableAlertKey, encryptAlertDetails, fitAlertDetails, maxEncBytesFor } from '../../../functions/_lib/alert-encryption.js';
import { AlertDecryptionError, alertKeyIdOf, alertKeyThumbprint, decryptAlert, exportAlertPublicKey, generateAlertKeyPair } from '../../../shared/client/alert-key.js';
import { ValidationError } from '../../../shared/errors.js';
import { alertPublicKeySchema, type AlertDetails } from '../../../shared/org/alert-details.js';
import { newMailPush } from '../../../shared/push/apns-payloads.js';

const details: AlertDetails = {
  mailbox: 'inbox',
  from: { name: 'Ada Lovelace', address: 'ada@example.com' },
  subject: 'Quarterly numbers 📈',
  preview: 'Here are the numbers you asked for.',
  receivedAt: '2026-12-07T08:00:00.000Z',
};
const generic = newMailPush({ mailboxId: 'inbox', newMessages: 1 }).payload;

describe('detailed alerts: server-side JWE and the client library', () => {
  it('round-trips through the client library, with kid = the RFC 7638 thumbprint and ECDH-ES / A256GCM', async () => {
    const pair = await generateAlertKeyPair();
    const alertKey = await exportAlertPublicKey(pair.publicKey);
    expect(Object.keys(alertKey).sort()).toEqual(['crv', 'kty', 'x', 'y']);
    const enc = await encryptAlertDetails(details, alertKey, maxEncBytesFor(generic));
    expect(enc).toBeDefined();
    const header = decodeProtectedHeader(enc as string);
    expect(header).toMatchObject({ alg: 'ECDH-ES', enc: 'A256GCM', kid: await alertKeyThumbprint(alertKey) });
    expect(header.kid).toBe(await alertKeyId(alertKey));
    expect(alertKeyIdOf(enc as string)).toBe(header.kid);
    expect(await decryptAlert(enc as string, pair.privateKey)).toEqual(details);
  });

  it('is a standard JWE: jose opens it too', async () => {
    const pair = await generateAlertKeyPair();
    const alertKey = await exportAlertPublicKey(pair.publicKey);
    const enc = (await encryptAlertDetails(details, alertKey, 3_900)) as string;
    const privateJwk = await crypto.subtle.exportKey('jwk', pair.privateKey);
    const { plaintext } = await compactDecrypt(enc, await importJWK(privateJwk as never, 'ECDH-ES'));
    expect(JSON.parse(new TextDecoder().decode(plaintext))).toEqual(details);
  });

  it('refuses another key and a tampered value with AlertDecryptionError', async () => {
    const pair = await generateAlertKeyPair();
    const other = await generateAlertKeyPair();
    const enc = (await encryptAlertDetails(details, await exportAlertPublicKey(pair.publicKey), 3_900)) as string;
    await expect(decryptAlert(enc, other.privateKey)).rejects.toThrow(AlertDecryptionError);
    const parts = enc.split('.');
    const flipped = parts[3]!.startsWith('A') ? `B${parts[3]!.slice(1)}` : `A${parts[3]!.slice(1)}`;
    await expect(decryptAlert([parts[0], parts[1], parts[2], flipped, parts[4]].join('.'), pair.privateKey)).rejects.toThrow(AlertDecryptionError);
    await expect(decryptAlert('not.a.jwe', pair.privateKey)).rejects.toThrow(AlertDecryptionError);
  });

  it('shortens preview, then subject, then name at character boundaries so the payload stays under 4 KB', async () => {
    const pair = await generateAlertKeyPair();
    const alertKey = await exportAlertPublicKey(pair.publicKey);
    const long: AlertDetails = { ...details, subject: 'é'.repeat(2_000), preview: '𝄞'.repeat(256) };
    const enc = (await encryptAlertDetails(long, alertKey, maxEncBytesFor(generic))) as string;
    const payload = JSON.stringify({ ...generic, enc });
    expect(new TextEncoder().encode(payload).byteLength).toBeLessThan(4096);
    const opened = await decryptAlert(enc, pair.privateKey);
    expect(opened.preview).toBe('');
    expect(opened.subject.endsWith('…')).toBe(true);
    expect(opened.subject.length).toBeGreaterThan(500);
    // No half characters: every remaining code point is a whole one of the original.
    expect(opened.subject.slice(0, -1)).toMatch(/^é+$/);
    expect(opened.from).toEqual(details.from);
  });

  it('shortens a sender name only once preview and subject are gone', async () => {
    const pair = await generateAlertKeyPair();
    const long: AlertDetails = { ...details, from: { name: '👩‍💻'.repeat(300), address: 'ada@example.com' } };
    const opened = await decryptAlert((await encryptAlertDetails(long, await exportAlertPublicKey(pair.publicKey), maxEncBytesFor(generic))) as string, pair.privateKey);
    expect([opened.preview, opened.subject]).toEqual(['', '']);
    expect(opened.from.name.replace(/…$/, '')).toMatch(/^(👩‍💻)+$/u);
  });

  it('keeps grapheme clusters whole when shortening', () => {
    const fitted = fitAlertDetails({ ...details, subject: '', preview: '👩‍💻'.repeat(50) }, 400);
    expect(fitted).toBeDefined();
    expect(fitted!.preview.replace(/…$/, '')).toMatch(/^(👩‍💻)*$/u);
  });

  it('gives no enc when even the shortest form cannot fit', async () => {
    const pair = await generateAlertKeyPair();
    expect(await encryptAlertDetails(details, await exportAlertPublicKey(pair.publicKey), 200)).toBeUndefined();
  });
});

describe('alertKey validation', () => {
  it('accepts the public JWK a device exports and refuses a private key, another curve or garbage', async () => {
    const pair = await generateAlertKeyPair();
    const publicJwk = await crypto.subtle.exportKey('jwk', pair.publicKey);
    expect(alertPublicKeySchema.safeParse(publicJwk).success).toBe(true);
    const privateJwk = await crypto.subtle.exportKey('jwk', pair.privateKey);
    expect(alertPublicKeySchema.safeParse(privateJwk).success).toBe(false);
    expect(alertPublicKeySchema.safeParse({ ...publicJwk, crv: 'P-384' }).success).toBe(false);
    expect(alertPublicKeySchema.safeParse({ kty: 'RSA', n: 'x', e: 'AQAB' }).success).toBe(false);
  });

  it('refuses a point that is not on the curve', async () => {
    const alertKey = await exportAlertPublicKey((await generateAlertKeyPair()).publicKey);
    expect(() => assertUsableAlertKey(alertKey)).not.toThrow();
    expect(() => assertUsableAlertKey({ ...alertKey, y: alertKey.x })).toThrow(ValidationError);
  });
});
