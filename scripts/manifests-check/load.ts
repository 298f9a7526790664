/**
 * Reading a kustomize base: its files as text (from a folder, or given in memory by tests), parsed into
 * manifests, and the kustomization's `resources` compared with the files that exist.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

/** File name → text. */
export type Sources = ReadonlyMap<string, string>;

export interface Manifest {
  file: string;
  /** Position among the file's documents, from 0. */
  index: number;
  object: Record<string, unknown>;
}

export interface Problem {
  /** `file`, or `file#index Kind/name`. */
  where: string;
  message: string;
}

export const KUSTOMIZATION = 'kustomization.yaml';

export interface Base {
  kustomization: Record<string, unknown>;
  manifests: Manifest[];
}

export async function readSources(dir: string): Promise<Sources> {
  const names = (await readdir(dir)).filter((n) => /\.ya?ml$/.test(n)).sort();
  return new Map(
    await Promise.all(names.map(async (n) => [n, await readFile(join(dir, n), 'utf8')] as const)),
  );
}

export function describe(m: Manifest): string {
  const meta = m.object['metadata'] as { name?: unknown } | undefined;
  return `${m.file}#${m.index} ${String(m.object['kind'])}/${String(meta?.name)}`;
}

function parse(file: string, text: string, problems: Problem[]): Record<string, unknown>[] {
  const objects: Record<string, unknown>[] = [];
  for (const [i, doc] of parseAllDocuments(text).entries()) {
    if (doc.errors.length > 0) {
      for (const e of doc.errors) problems.push({ where: `${file}#${i}`, message: `YAML: ${e.message}` });
      continue;
    }
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    if (typeof value !== 'object' || Array.isArray(value)) {
      problems.push({ where: `${file}#${i}`, message: 'a manifest must be a mapping' });
      continue;
    }
    objects.push(value as Record<string, unknown>);
  }
  return objects;
}

/**
 * The kustomization and the manifests of the files it lists. Every YAML file beside it must be listed and
 * every listed resource must be one of those files (a base here holds no remote or nested resources).
 */
export function loadBase(sources: Sources, problems: Problem[]): Base | undefined {
  const text = sources.get(KUSTOMIZATION);
  if (text === undefined) {
    problems.push({ where: KUSTOMIZATION, message: 'missing' });
    return undefined;
  }
  const [kustomization] = parse(KUSTOMIZATION, text, problems);
  if (kustomization === undefined) return undefined;
  if (kustomization['kind'] !== 'Kustomization') {
    problems.push({ where: KUSTOMIZATION, message: 'kind must be Kustomization' });
  }
  const resources = kustomization['resources'];
  const listed = Array.isArray(resources) ? resources.filter((r): r is string => typeof r === 'string') : [];
  if (listed.length === 0) problems.push({ where: KUSTOMIZATION, message: 'resources must list files' });
  const manifests: Manifest[] = [];
  for (const file of listed) {
    const body = sources.get(file);
    if (body === undefined) {
      problems.push({ where: KUSTOMIZATION, message: `resources lists ${file}, which does not exist` });
      continue;
    }
    for (const [index, object] of parse(file, body, problems).entries())
      manifests.push({ file, index, object });
  }
  for (const file of sources.keys()) {
    if (file !== KUSTOMIZATION && !listed.includes(file)) {
      problems.push({ where: KUSTOMIZATION, message: `${file} is not listed in resources` });
    }
  }
  return { kustomization, manifests };
}
