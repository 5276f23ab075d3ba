import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { START_COMMAND } from '../support/start-command.js';

// No Docker engine runs here; this checks what the image build relies on instead.
const dockerfile = readFileSync('Dockerfile', 'utf8');
const lines = dockerfile.split('\n').map((l) => l.trim());

describe('Dockerfile', () => {
  it('copies only files that exist in the repository', () => {
    const sources = lines.filter((l) => l.startsWith('COPY ') && !l.includes('--from=')).flatMap((l) => l.slice('COPY '.length).split(/\s+/).slice(0, -1));
    expect(sources.length).toBeGreaterThan(3);
    for (const source of sources) expect(existsSync(source), source).toBe(true);
  });

  it('runs the file the build writes, with the node options of npm start', () => {
    const cmd = /^CMD (\[.*\])$/m.exec(dockerfile)?.[1];
    expect(JSON.parse(cmd ?? 'null')).toEqual(START_COMMAND);
    const build = JSON.parse(readFileSync('tsconfig.build.json', 'utf8')) as { include: string[] };
    const base = JSON.parse(readFileSync('tsconfig.json', 'utf8')) as { compilerOptions: { outDir: string; rootDir: string } };
    // dist/ mirrors the project root, so src/main.ts compiles to dist/src/main.js.
    expect(base.compilerOptions).toMatchObject({ outDir: 'dist', rootDir: '.' });
    expect(build.include).toContain('src');
    expect(existsSync('src/main.ts')).toBe(true);
    expect(JSON.parse(readFileSync('package.json', 'utf8')).scripts.build).toBe('tsc -p tsconfig.build.json');
  });

  it('runs as a non-root user with production dependencies only and checks /healthcheck', () => {
    expect(lines).toContain('USER node');
    expect(dockerfile).toMatch(/npm prune --omit=dev/);
    expect(dockerfile).toMatch(/HEALTHCHECK[\s\S]*\/healthcheck/);
    expect(lines.filter((l) => l.startsWith('FROM '))).toHaveLength(2);
  });
});
