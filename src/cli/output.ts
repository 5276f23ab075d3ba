/** Terminal output: colours only on a TTY (and not with NO_COLOR), tables, durations. */
export interface Style {
  green(s: string): string;
  red(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
}

export function styleFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): Style {
  const on = Boolean(stream.isTTY) && !env.NO_COLOR && env.TERM !== 'dumb';
  const sgr = (open: number, close: number) => (s: string) => (on ? `\x1b[${open}m${s}\x1b[${close}m` : s);
  return { green: sgr(32, 39), red: sgr(31, 39), yellow: sgr(33, 39), cyan: sgr(36, 39), dim: sgr(2, 22), bold: sgr(1, 22) };
}

/** A cell: its text (for the width) and how it is shown (colour codes take no columns). */
export type Cell = string | { text: string; show: (s: string) => string };

/** Columns padded to the widest cell; the last column is not padded. */
export function table(header: string[], rows: Cell[][], style: Style): string {
  const text = (c: Cell) => (typeof c === 'string' ? c : c.text);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => text(r[i] ?? '').length)));
  const line = (cells: Cell[], head = false) =>
    cells
      .map((c, i) => {
        const padded = i === cells.length - 1 ? text(c) : text(c).padEnd(widths[i]!);
        if (head) return style.bold(padded);
        return typeof c === 'string' ? padded : c.show(padded);
      })
      .join('  ')
      .trimEnd();
  return [line(header, true), ...rows.map((r) => line(r))].join('\n');
}

/** "45 s", "12 min", "3 h 05 min", "2 d 4 h". */
export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${String(m % 60).padStart(2, '0')} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** HH:MM:SS.mmm in local time. */
export function clock(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}
