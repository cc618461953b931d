import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { startHealthServer } from '../../src/health.js';

describe('health server', () => {
  it('says which address is taken and what to do, instead of crashing the process', async () => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      await expect(startHealthServer(port, '127.0.0.1', () => ({ role: 'leader' }))).rejects.toThrow(
        new RegExp(`health port 127.0.0.1:${port} cannot be bound \\(EADDRINUSE\\).*--health-port`),
      );
    } finally {
      taken.close();
    }
  });

  it('answers /healthz and /readyz once listening', async () => {
    const s = await startHealthServer(0, '127.0.0.1', () => ({ role: 'standby' }));
    try {
      const port = (s.address() as net.AddressInfo).port;
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      const r = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect([r.status, (await r.text()).trim()]).toEqual([200, 'standby']);
    } finally {
      s.close();
    }
  });

  it('says why it is not ready in short words, never the internal error text', async () => {
    const s = await startHealthServer(0, '127.0.0.1', () => ({
      role: 'leader',
      problem: '1 informer cache(s) stale',
      detail: 'caches stale: pods: watch failed: 403 pods is forbidden: User "system:serviceaccount:fedlet-system:fedlet"',
    }));
    try {
      const port = (s.address() as net.AddressInfo).port;
      const r = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect([r.status, (await r.text()).trim()]).toEqual([503, 'leader: 1 informer cache(s) stale']);
    } finally {
      s.close();
    }
  });
});
