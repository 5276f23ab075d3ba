/** An IPv6 literal in brackets, as a URL needs it; other hosts as they are. */
export function urlHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** The configured host a master's web UI URL (`http://host:port`) belongs to; the first host when none matches. */
export function hostOfWebUiUrl(webUiUrl: string, hosts: readonly string[]): string {
  return hosts.find((h) => webUiUrl.startsWith(`http://${urlHost(h)}:`)) ?? hosts[0] ?? '';
}
