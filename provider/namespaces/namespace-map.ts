// Upper namespace → lower namespace through a template ("{{namespace}}" by default). Results longer
// than 63 characters are shortened with a stable hash so distinct inputs stay distinct.
import { createHash } from 'node:crypto';

export class NamespaceTemplateError extends Error {}

export function validateNamespaceTemplate(template: string): void {
  if (!template.includes('{{namespace}}'))
    throw new NamespaceTemplateError(`namespace template "${template}" must contain {{namespace}}`);
  const rest = template.replace(/\{\{namespace\}\}|\{\{cluster\}\}/g, '');
  if (!/^[a-z0-9-]*$/.test(rest))
    throw new NamespaceTemplateError(
      `namespace template "${template}": only lowercase letters, digits, '-', {{namespace}} and {{cluster}} are allowed`,
    );
}

export function shortenName(name: string, max = 63): string {
  if (name.length <= max) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 10);
  return `${name.slice(0, max - hash.length - 1).replace(/-+$/, '')}-${hash}`;
}

export function lowerNamespace(template: string, upperNamespace: string, cluster: string): string {
  const raw = template.replace(/\{\{namespace\}\}/g, upperNamespace).replace(/\{\{cluster\}\}/g, cluster);
  return shortenName(raw);
}
