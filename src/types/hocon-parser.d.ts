declare module '@pushcorn/hocon-parser' {
  interface ParseOptions { text?: string; url?: string; strict?: boolean }
  function parse(opts: ParseOptions): Promise<unknown>;
  export default parse;
}
