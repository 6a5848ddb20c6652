import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateLoopbackCertificate } from '../../infra/local/apns-sandbox.js';

describe('generateLoopbackCertificate', () => {
  it('builds a self-signed certificate for 127.0.0.1 and localhost that is valid now', () => {
    const { certPem, keyPem } = generateLoopbackCertificate();
    const certificate = new X509Certificate(certPem);

    expect(certificate.verify(certificate.publicKey)).toBe(true);
    expect(certificate.checkIssued(certificate)).toBe(true);
    expect(certificate.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(certificate.checkHost('localhost')).toBe('localhost');
    expect(certificate.checkHost('api.push.apple.com')).toBeUndefined();
    expect(Date.parse(certificate.validFrom)).toBeLessThanOrEqual(Date.now());
    expect(Date.parse(certificate.validTo)).toBeGreaterThan(Date.now() + 86_400_000);
    // The key returned is the one the certificate names.
    const publicFromKey = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' });
    expect(certificate.publicKey.export({ type: 'spki', format: 'der' })).toEqual(publicFromKey);
  });

  it('gives every certificate its own key and serial number', () => {
    const a = new X509Certificate(generateLoopbackCertificate().certPem);
    const b = new X509Certificate(generateLoopbackCertificate().certPem);
    expect(a.serialNumber).not.toBe(b.serialNumber);
    expect(a.fingerprint256).not.toBe(b.fingerprint256);
  });
});
