/**
 * Loopback detection by name: a registry or proxy on this machine (no network between us).
 *
 * @module
 */
const LOOPBACK_RE = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\]|::1)$/i;

/** Whether `host[:port]` names a loopback host. */
export function isLoopbackHost(registry: string): boolean {
  const host = registry.startsWith('[') ? registry.slice(0, registry.indexOf(']') + 1) : registry.replace(/:\d+$/, '');
  return LOOPBACK_RE.test(host);
}
