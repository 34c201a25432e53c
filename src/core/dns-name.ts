// DNS labels and domains as mesh's DNS interface accepts them. In core because `mesh registry start` validates
// --dns-domain while parsing flags, before (and without loading) the DNS server.

const LABEL = /^[a-z0-9_]([-a-z0-9_]*[a-z0-9_])?$/;

/** Whether a text can be one label of a name mesh answers (lower case is the caller's job). */
export function isLabel(text: string): boolean {
  return text.length > 0 && text.length <= 63 && LABEL.test(text);
}

/** Normalises a --dns-domain value: lower case, no leading/trailing dots. Throws on a name that is not one. */
export function normaliseDomain(domain: string): string {
  const d = domain.toLowerCase().replace(/^\.+|\.+$/g, '');
  const labels = d.split('.');
  if (d.length === 0 || d.length > 200 || !labels.every(isLabel)) {
    throw new RangeError(`invalid DNS domain "${domain}": use DNS labels separated by dots, e.g. mesh or mesh.internal`);
  }
  return d;
}
