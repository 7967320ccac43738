// The README's import table is the code's: every import from one src/ module
// into another is listed there, and the modules form no cycle. A new import
// across modules means updating the table (and thinking about the direction).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './relay-fixtures.ts';

const SRC = join(REPO_ROOT, 'src');

/** module → the modules it may import, from the README's table. */
function readmeTable(): Map<string, Set<string>> {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('```', readme.indexOf('Imports run one way'));
  const block = readme.slice(start + 3, readme.indexOf('```', start + 3));
  const table = new Map<string, Set<string>>();
  for (const line of block.split('\n').filter((l) => l.trim())) {
    const [, modules, imports] = /^(\S.*?)\s{2,}(.+)$/.exec(line) ?? [];
    if (!modules) throw new Error(`README import table: cannot read "${line}"`);
    const allowed = new Set(imports.trim() === '-' ? [] : imports.split(',').map((m) => m.trim()));
    for (const module of modules.split(',').map((m) => m.trim())) table.set(module, allowed);
  }
  return table;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.(ts|tsx|mjs)$/.test(entry.name) ? [path] : [];
  });
}

/** module → the other modules its files import (relative imports only: packages are not modules). */
function actualImports(): Map<string, Map<string, string>> {
  const imports = new Map<string, Map<string, string>>();
  for (const file of sourceFiles(SRC)) {
    const module = relative(SRC, file).split('/')[0];
    if (!imports.has(module)) imports.set(module, new Map());
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'";]*?\bfrom\s+['"](\.{1,2}\/[^'"]+)['"]/g)) {
      const target = relative(SRC, normalize(join(dirname(file), match[1]))).split('/')[0];
      if (target !== module && !target.startsWith('..')) imports.get(module)!.set(target, relative(REPO_ROOT, file));
    }
  }
  return imports;
}

describe('import layers', () => {
  const table = readmeTable();
  const imports = actualImports();

  it('lists every module of src/', () => {
    expect([...imports.keys()].filter((m) => !table.has(m))).toEqual([]);
  });

  it('has every cross-module import in the README table', () => {
    const unlisted: string[] = [];
    for (const [module, targets] of imports) {
      for (const [target, file] of targets) if (!table.get(module)?.has(target)) unlisted.push(`${module} → ${target} (${file})`);
    }
    expect(unlisted).toEqual([]);
  });

  it('has no cycle between modules', () => {
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (module: string, path: string[]): string | null => {
      if (state.get(module) === 'done') return null;
      if (state.get(module) === 'visiting') return [...path, module].join(' → ');
      state.set(module, 'visiting');
      for (const target of imports.get(module)?.keys() ?? []) {
        const cycle = visit(target, [...path, module]);
        if (cycle) return cycle;
      }
      state.set(module, 'done');
      return null;
    };
    for (const module of imports.keys()) expect(visit(module, [])).toBeNull();
  });

  it('keeps the relay free of client code', () => {
    const relay = [...(imports.get('relay')?.keys() ?? [])];
    for (const client of ['swarm', 'worker', 'app', 'storage', 'wallet']) expect(relay).not.toContain(client);
  });
});
