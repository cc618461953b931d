import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { certValidity, renewalDelayMs, rotateServingCert } from '../../src/kubelet/cert-rotation.js';
import type { ServingCert } from '../../src/kubelet/serving-cert.js';
import { createSelfSigned, newKeyPair } from '../../src/kubelet/x509.js';

const log = pino({ level: 'silent' });
const H = 3600_000;

describe('renewalDelayMs (kubelet schedule: jittered 70–90% of the lifetime)', () => {
  it.each([
    // notBefore, notAfter, now, random, expected
    [0, 100 * H, 0, 0, 70 * H],
    [0, 100 * H, 0, 1, 90 * H],
    [0, 100 * H, 0, 0.5, 80 * H],
    [0, 100 * H, 50 * H, 0, 20 * H],
    [0, 100 * H, 95 * H, 0.5, 0], // already past the renewal point: renew now
    [10 * H, 10 * H, 0, 0.5, 10 * H], // zero lifetime: at notBefore
  ])('from %d to %d at %d with jitter %d → %d', (nb, na, now, r, want) => {
    expect(renewalDelayMs(nb, na, now, () => r)).toBe(want);
  });
});

function cert(days: number): ServingCert {
  const key = newKeyPair();
  return {
    cert: createSelfSigned(key, { commonName: 'system:node:n', organizations: ['system:nodes'] }, { dns: ['n'], ips: [] }, days),
    key: key.privateKeyPem,
    source: `test ${days}d`,
  };
}

describe('rotateServingCert', () => {
  it('renews at the scheduled time, applies the new certificate, and retries with backoff after a failure', async () => {
    const first = cert(10);
    const second = cert(20);
    const { notBefore, notAfter } = certValidity(first.cert);
    let now = notBefore;
    const waits: number[] = [];
    const applied: string[] = [];
    const ac = new AbortController();
    let attempts = 0;
    await rotateServingCert(
      first,
      {
        renew: async () => {
          attempts++;
          if (attempts === 1) throw new Error('CSR denied');
          return second;
        },
        apply: (c) => {
          applied.push(c.source);
          ac.abort(); // stop after the first successful renewal
        },
        log,
        now: () => now,
        random: () => 0.5,
        sleep: async (ms) => {
          waits.push(ms);
          now += ms;
        },
      },
      ac.signal,
    );
    expect(waits[0]).toBe(Math.round((notAfter - notBefore) * 0.8));
    expect(attempts).toBe(2);
    expect(waits.length).toBe(3); // schedule, backoff after the failure, schedule again (past due: 0)
    expect(waits[2]).toBe(0);
    expect(applied).toEqual(['test 20d']);
  });

  it('waits for a one-year certificate in steps a timer can hold (no renewal storm), then renews once', async () => {
    const first = cert(365);
    const { notBefore, notAfter } = certValidity(first.cert);
    let now = notBefore;
    const waits: number[] = [];
    const ac = new AbortController();
    let renewals = 0;
    await rotateServingCert(
      first,
      {
        renew: async () => {
          renewals++;
          ac.abort();
          return cert(365);
        },
        apply: () => undefined,
        log,
        now: () => now,
        random: () => 0.5,
        sleep: async (ms) => {
          waits.push(ms);
          now += ms;
        },
      },
      ac.signal,
    );
    expect(Math.max(...waits)).toBeLessThanOrEqual(2 ** 31 - 1);
    expect(waits.reduce((a, b) => a + b, 0)).toBe(Math.round((notAfter - notBefore) * 0.8));
    expect(renewals).toBe(1);
  });
});
