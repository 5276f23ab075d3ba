/** The first line of a message, trimmed, cut at `max` characters (with an ellipsis). */
export function firstLine(text: unknown, max = Number.POSITIVE_INFINITY): string {
  const line = (String(text).split(/\r?\n/, 1)[0] ?? '').trim();
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

/** `/logs/` → `logs`: a store path without its leading and trailing slashes. */
export function trimSlashes(path: string): string {
  return path.replace(/^\/+|\/+$/g, '');
}
