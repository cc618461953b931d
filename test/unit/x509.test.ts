import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createClientCsr, createCsr, createSelfSigned, newKeyPair } from '../../src/kubelet/x509.js';

describe('x509', () => {
  it('makes a self-signed serving certificate Node can parse and verify', () => {
    const key = newKeyPair();
    const pem = createSelfSigned(
      key,
      { commonName: 'system:node:fedlet-a', organizations: ['system:nodes'] },
      { dns: ['fedlet-a'], ips: ['127.0.0.1', '::1'] },
    );
    const cert = new X509Certificate(pem);
    expect(cert.subject).toContain('CN=system:node:fedlet-a');
    expect(cert.subject).toContain('O=system:nodes');
    expect(cert.subjectAltName).toContain('DNS:fedlet-a');
    expect(cert.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(cert.subjectAltName).toContain('IP Address:0:0:0:0:0:0:0:1');
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
  });

  it('makes a CSR that openssl verifies, with the requested subject and SANs', () => {
    const key = newKeyPair();
    const csr = createCsr(
      key,
      { commonName: 'system:node:fedlet-a', organizations: ['system:nodes'] },
      { dns: ['fedlet-a'], ips: ['10.1.2.3'] },
    );
    const dir = mkdtempSync(path.join(os.tmpdir(), 'csr-'));
    writeFileSync(path.join(dir, 'r.csr'), csr);
    const out = execFileSync('openssl', ['req', '-in', path.join(dir, 'r.csr'), '-noout', '-verify', '-text'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect(out).toMatch(/O\s*=\s*system:nodes/);
    expect(out).toMatch(/CN\s*=\s*system:node:fedlet-a/);
    expect(out).toContain('DNS:fedlet-a');
    expect(out).toContain('IP Address:10.1.2.3');
    expect(out).toContain('TLS Web Server Authentication');
  });

  it('makes a client CSR (kube-apiserver-client-kubelet) that openssl verifies: the subject, no extensions', () => {
    const csr = createClientCsr(newKeyPair(), { commonName: 'system:node:fedlet-a', organizations: ['system:nodes'] });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'csr-'));
    writeFileSync(path.join(dir, 'r.csr'), csr);
    const out = execFileSync('openssl', ['req', '-in', path.join(dir, 'r.csr'), '-noout', '-verify', '-text'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect(out).toMatch(/O\s*=\s*system:nodes/);
    expect(out).toMatch(/CN\s*=\s*system:node:fedlet-a/);
    expect(out).not.toMatch(/Subject Alternative Name|Extended Key Usage/);
  });
});
