// A throwaway self-signed certificate for 127.0.0.1 made with the real openssl, for tests and benches that
// need TLS peers on loopback (one place, so they all speak the same curve and name).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Writes key.pem and cert.pem into `dir` (a new temporary directory by default) and returns them as PEM. */
export function selfSignedLoopbackCert(dir = mkdtempSync(path.join(os.tmpdir(), 'fedlet-cert-'))): {
  cert: string;
  key: string;
} {
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
  ], { stdio: 'ignore' }); // prettier-ignore
  return { cert: readFileSync(path.join(dir, 'cert.pem'), 'utf8'), key: readFileSync(path.join(dir, 'key.pem'), 'utf8') };
}
