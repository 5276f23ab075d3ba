/**
 * What the master's Jetty servers send besides the servlets' JSON: its error page (for a method a
 * servlet does not implement, an exception a servlet does not catch, an injected failure), with
 * the servlet names Jetty prints; and the shape of every answer the simulator writes.
 */
import http from 'node:http';

/** One HTTP answer, written as is by the HTTP shell. */
export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Jetty 9.4's ErrorHandler page (as Spark's servers send it): the message in the title, heading
 * and table; the servlet that answered (class name and identity hash) when there was one; an
 * uncaught exception as CAUSED BY plus its stack trace.
 */
export function jettyErrorPage(status: number, uri: string, message: string, servlet?: string, cause?: string): string {
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
  const causeLine = cause?.split('\n')[0];
  return (
    '<html>\n<head>\n<meta http-equiv="Content-Type" content="text/html;charset=ISO-8859-1"/>\n' +
    `<title>Error ${status} ${esc(message)}</title>\n</head>\n<body><h2>HTTP ERROR ${status} ${esc(message)}</h2>\n` +
    `<table>\n<tr><th>URI:</th><td>${esc(uri)}</td></tr>\n<tr><th>STATUS:</th><td>${status}</td></tr>\n` +
    `<tr><th>MESSAGE:</th><td>${esc(message)}</td></tr>\n` +
    (servlet ? `<tr><th>SERVLET:</th><td>${esc(servlet)}</td></tr>\n` : '') +
    (causeLine ? `<tr><th>CAUSED BY:</th><td>${esc(causeLine)}</td></tr>\n` : '') +
    '</table>\n' +
    (cause ? `<h3>Caused by:</h3><pre>${esc(cause)}\n</pre>\n` : '') +
    '\n</body>\n</html>\n'
  );
}

/** Servlet names as Jetty prints them: class name, '-', identity hash (hex); one hash per servlet and process. */
export const SERVLET_NAMES = Object.fromEntries(
  (
    [
      ['create', 'org.apache.spark.deploy.rest.StandaloneSubmitRequestServlet'],
      ['kill', 'org.apache.spark.deploy.rest.StandaloneKillRequestServlet'],
      ['status', 'org.apache.spark.deploy.rest.StandaloneStatusRequestServlet'],
      ['ui', 'org.apache.spark.ui.JettyUtils$$anon$1'],
    ] as const
  ).map(([k, cls]) => [k, `${cls}-${Math.floor(Math.random() * 0x7fffffff).toString(16)}`]),
) as Record<'create' | 'kill' | 'status' | 'ui', string>;

export function reasonPhrase(status: number): string {
  return http.STATUS_CODES[status] ?? 'Error';
}

/** An HTML answer with the headers of Jetty's error pages. */
export function jettyHtmlAnswer(status: number, body: string, contentType = 'text/html;charset=iso-8859-1'): Answer {
  return { status, headers: { 'content-type': contentType, 'cache-control': 'must-revalidate,no-cache,no-store' }, body };
}

/** Jetty's error page for `uri` (the status's reason phrase when there is no message). */
export function jettyAnswer(status: number, uri: string, message?: string, servlet?: string, cause?: string): Answer {
  return jettyHtmlAnswer(status, jettyErrorPage(status, uri, message ?? reasonPhrase(status), servlet, cause));
}

/** HttpServlet's answer to a method the servlet does not implement. */
export function methodNotAllowed(method: string, uri: string, servlet: keyof typeof SERVLET_NAMES): Answer {
  return jettyAnswer(405, uri, `HTTP method ${method} is not supported by this URL`, SERVLET_NAMES[servlet]);
}
