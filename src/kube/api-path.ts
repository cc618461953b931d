// API paths built from names, escaped: names that come from tenants (a pod's references, its service
// account, its claims) go into URLs only through here. Every substitution is percent-encoded, and an
// empty one is refused: `/namespaces/ns/secrets/` would turn a read of one object into a list of all.
import { InvalidInputError } from '../errors.js';

/** Tagged template: apiPath`/api/v1/namespaces/${ns}/secrets/${name}` with each name escaped. */
export function apiPath(strings: TemplateStringsArray, ...names: string[]): string {
  let out = strings[0]!;
  names.forEach((n, i) => {
    if (typeof n !== 'string' || n === '') throw new InvalidInputError(`empty name in API path ${strings.join('…')}`);
    out += encodeURIComponent(n) + strings[i + 1]!;
  });
  return out;
}

/** DNS-1123 subdomain: what Kubernetes requires of most object names (ConfigMaps, Secrets, claims). */
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function isObjectName(name: string): boolean {
  return name.length <= 253 && DNS_SUBDOMAIN.test(name);
}
