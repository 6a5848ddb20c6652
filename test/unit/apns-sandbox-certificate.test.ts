import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { derUnsignedInteger, generateLoopbackCertificate } from '../../infra/local/apns-sandbox.js';

/** How Node prints a serial: the value's bytes without leading zero octets, upper-case hex, "0" for zero. */
function serialAsNodePrintsIt(serial: Uint8Array): string {
  const hex = Buffer.from(serial).toString('hex').replace(/^(00)+/, '').toUpperCase();
  return hex === '' ? '0' : hex;
}

/** The bytes a DER INTEGER's content must be for a non-negative value: X.690 8.3.2's minimal two's complement. */
function minimalContent(serial: Uint8Array): Buffer {
  const value = BigInt(`0x${Buffer.from(serial).toString('hex') || '0'}`);
  let hex = value.toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  if (parseInt(hex.slice(0, 2), 16) & 0x80) hex = `00${hex}`;
  return Buffer.from(hex, 'hex');
}

// Serials at the edges the old encoder got wrong (leading zero octets) or had to pad (top bit set), then random ones.
const edgeSerials = [
  [0], [0, 0], [0x7f], [0x80], [0xff], [0, 0x7f], [0, 0x80], [0, 0, 0, 5], [0, 0, 0x80, 1],
  [0x00, ...Array<number>(15).fill(0x11)], [0x80, ...Array<number>(15).fill(0)], Array<number>(16).fill(0xff),
].map((bytes) => Uint8Array.from(bytes));
const serialBytes = fc.uint8Array({ minLength: 1, maxLength: 20 });
const SEED = 14;

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

  it('builds a certificate OpenSSL parses whatever the serial is (edges, then 600 seeded ones)', () => {
    // A random 16-byte serial starting with 0x00 made 1 certificate in ~550 unparseable ("illegal padding").
    for (const serial of edgeSerials) {
      expect(new X509Certificate(generateLoopbackCertificate({ serial }).certPem).serialNumber).toBe(serialAsNodePrintsIt(serial));
    }
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (serial) => {
        expect(new X509Certificate(generateLoopbackCertificate({ serial }).certPem).serialNumber).toBe(serialAsNodePrintsIt(serial));
      }),
      { seed: SEED, numRuns: 600 },
    );
  });
});

describe('derUnsignedInteger', () => {
  it('writes the minimal two\'s-complement octets of the value (edges, then 20,000 seeded values)', () => {
    const check = (serial: Uint8Array): void => {
      const encoded = derUnsignedInteger(serial);
      const content = minimalContent(serial);
      expect(encoded[0]).toBe(0x02);
      expect(encoded[1]).toBe(content.length);
      expect(encoded.subarray(2).toString('hex')).toBe(content.toString('hex'));
    };
    for (const serial of edgeSerials) check(serial);
    fc.assert(fc.property(serialBytes, check), { seed: SEED, numRuns: 20_000 });
  });
});
