/**
 * GETs that stay open under `http.protectReads`: the dashboard's and the API reference's pages,
 * scripts and styles, and the API description. They hold no data; the pages ask for the token
 * and send it with every request for data.
 */
export function isPublicPage(path: string): boolean {
  return path === '/' || path === '/docs' || path === '/openapi.json' || path.startsWith('/dashboard/') || path.startsWith('/docs/assets/');
}
