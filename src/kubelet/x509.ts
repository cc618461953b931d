// Just enough X.509 to serve TLS without shelling out: ECDSA P-256 keys, a PKCS#10 certificate signing
// request (serving: kubernetes.io/kubelet-serving; client: kubernetes.io/kube-apiserver-client-kubelet) and a self-signed certificate (explicit dev
// option). DER is assembled by hand; node:crypto does the key and signature work.
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, randomBytes, type KeyObject } from 'node:crypto';
import net from 'node:net';

const tag = (t: number, ...parts: Buffer[]): Buffer => {
  const body = Buffer.concat(parts);
  const len = body.length;
  let lenBytes: Buffer;
  if (len < 0x80) lenBytes = Buffer.from([len]);
  else {
    const hex = len.toString(16);
    const b = Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
    lenBytes = Buffer.concat([Buffer.from([0x80 | b.length]), b]);
  }
  return Buffer.concat([Buffer.from([t]), lenBytes, body]);
};
const seq = (...p: Buffer[]) => tag(0x30, ...p);
const set = (...p: Buffer[]) => tag(0x31, ...p);
const utf8 = (s: string) => tag(0x0c, Buffer.from(s, 'utf8'));
const octets = (b: Buffer) => tag(0x04, b);
const bits = (b: Buffer) => tag(0x03, Buffer.from([0]), b);
const bool = (v: boolean) => tag(0x01, Buffer.from([v ? 0xff : 0]));
function integer(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  let v = b.subarray(i);
  if (v[0]! & 0x80) v = Buffer.concat([Buffer.from([0]), v]);
  return tag(0x02, v);
}
function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const out = [40 * parts[0]! + parts[1]!];
  for (const p of parts.slice(2)) {
    const stack = [p & 0x7f];
    let v = p >> 7;
    while (v > 0) {
      stack.unshift((v & 0x7f) | 0x80);
      v >>= 7;
    }
    out.push(...stack);
  }
  return tag(0x06, Buffer.from(out));
}
function time(d: Date): Buffer {
  const z = d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
  return d.getUTCFullYear() < 2050 ? tag(0x17, Buffer.from(z.slice(2))) : tag(0x18, Buffer.from(z));
}

const OID = {
  CN: '2.5.4.3',
  O: '2.5.4.10',
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  extensionRequest: '1.2.840.113549.1.9.14',
  subjectAltName: '2.5.29.17',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  basicConstraints: '2.5.29.19',
  serverAuth: '1.3.6.1.5.5.7.3.1',
};

export interface Subject {
  commonName: string;
  organizations?: string[];
}
function name(s: Subject): Buffer {
  const rdns = (s.organizations ?? []).map((o) => set(seq(oid(OID.O), utf8(o))));
  rdns.push(set(seq(oid(OID.CN), utf8(s.commonName))));
  return seq(...rdns);
}

function ipBytes(ip: string): Buffer {
  if (net.isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  const [h, t] = ip.split('::') as [string, string | undefined];
  const hp = h ? h.split(':') : [];
  const tp = t ? t.split(':') : [];
  const groups = t === undefined ? hp : [...hp, ...Array(8 - hp.length - tp.length).fill('0'), ...tp];
  return Buffer.concat(
    groups.map((g) =>
      Buffer.from(
        parseInt(g || '0', 16)
          .toString(16)
          .padStart(4, '0'),
        'hex',
      ),
    ),
  );
}

function extensions(sans: { dns: string[]; ips: string[] }): Buffer[] {
  const general = [...sans.dns.map((d) => tag(0x82, Buffer.from(d))), ...sans.ips.map((ip) => tag(0x87, ipBytes(ip)))];
  // key usage: digitalSignature (bit 0) + keyEncipherment (bit 2) → 0b101 << 5 = 0xa0, 5 unused bits
  const keyUsage = tag(0x03, Buffer.from([5, 0xa0]));
  return [
    seq(oid(OID.keyUsage), bool(true), octets(keyUsage)),
    seq(oid(OID.extKeyUsage), octets(seq(oid(OID.serverAuth)))),
    seq(oid(OID.basicConstraints), bool(true), octets(seq())),
    seq(oid(OID.subjectAltName), octets(seq(...general))),
  ];
}

function pem(label: string, der: Buffer): string {
  const b64 = der
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

export interface KeyPair {
  privateKey: KeyObject;
  privateKeyPem: string;
  spki: Buffer;
}

export function newKeyPair(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    privateKey,
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    spki: publicKey.export({ type: 'spki', format: 'der' }),
  };
}

export function keyPairFromPem(privateKeyPem: string): KeyPair {
  const privateKey = createPrivateKey(privateKeyPem);
  return { privateKey, privateKeyPem, spki: createPublicKey(privateKey).export({ type: 'spki', format: 'der' }) };
}

const sigAlg = () => seq(oid(OID.ecdsaWithSHA256));

/** PKCS#10 CSR (PEM) for a serving certificate with the given subject and SANs. */
export function createCsr(key: KeyPair, subject: Subject, sans: { dns: string[]; ips: string[] }): string {
  const attrs = tag(0xa0, seq(oid(OID.extensionRequest), set(seq(...extensions(sans)))));
  const info = seq(integer(Buffer.from([0])), name(subject), key.spki, attrs);
  const signature = sign('sha256', info, key.privateKey);
  return pem('CERTIFICATE REQUEST', seq(info, sigAlg(), bits(signature)));
}

/** PKCS#10 CSR (PEM) for a client certificate: the subject alone, no extensions (no SANs). */
export function createClientCsr(key: KeyPair, subject: Subject): string {
  const info = seq(integer(Buffer.from([0])), name(subject), key.spki, tag(0xa0));
  const signature = sign('sha256', info, key.privateKey);
  return pem('CERTIFICATE REQUEST', seq(info, sigAlg(), bits(signature)));
}

/** Self-signed serving certificate (PEM), valid from an hour ago for `days`. */
export function createSelfSigned(key: KeyPair, subject: Subject, sans: { dns: string[]; ips: string[] }, days = 365): string {
  const now = Date.now();
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f;
  const tbs = seq(
    tag(0xa0, integer(Buffer.from([2]))),
    integer(serial),
    sigAlg(),
    name(subject),
    seq(time(new Date(now - 3600_000)), time(new Date(now + days * 86400_000))),
    name(subject),
    key.spki,
    tag(0xa3, seq(...extensions(sans))),
  );
  const signature = sign('sha256', tbs, key.privateKey);
  return pem('CERTIFICATE', seq(tbs, sigAlg(), bits(signature)));
}
