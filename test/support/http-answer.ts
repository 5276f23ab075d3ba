/** An answer of the daemon's HTTP API as tests read it, in-process or over a socket. */
export interface HttpAnswer {
  status: number;
  /** The JSON body, or `{ text }` when it is not JSON (an error page, an empty body). */
  body: Record<string, any>;
}

export async function readAnswer(res: Response): Promise<HttpAnswer> {
  const text = await res.text();
  let body: Record<string, any>;
  try {
    body = JSON.parse(text) as Record<string, any>;
  } catch {
    body = { text };
  }
  return { status: res.status, body };
}
