/**
 * Where a bundle's bytes come from: the esbuild build the Botpress CLI 0.8.59 runs for `bp build`
 * (same stdin entry, platform, target, minify, keepNames, legalComments), with a metafile, so the
 * size difference to the empty integration can be attributed to packages. The reproduction is
 * checked against the size of the real bundle.
 */
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { build, type BuildOptions } from 'esbuild'

export interface BundleBreakdown {
  /** Bytes of the reproduced bundle. */
  readonly bytes: number
  /** Bytes of the real bundle written by `bp build`. */
  readonly actualBytes: number
  /** Bytes in the output by origin: a package name, "src/ (ours)" or ".botpress/ (generated)". */
  readonly byOrigin: ReadonlyMap<string, number>
}

const originOf = (path: string): string => {
  const marker = path.lastIndexOf('node_modules/')
  if (marker >= 0) {
    const rest = path.slice(marker + 'node_modules/'.length).split('/')
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!
  }
  if (path.startsWith('src/') || path.includes('/src/')) return 'src/ (ours)'
  if (path.startsWith('.botpress/')) return '.botpress/ (generated)'
  return path
}

/** The options the CLI's `bp build` gives esbuild for the integration in `projectDir`. */
export const cliBuildOptions = (projectDir: string) =>
  ({
    stdin: {
      contents: "import x from './src/index'; export default x; export const handler = x.handler;",
      resolveDir: projectDir,
      loader: 'ts',
    },
    logOverride: { 'equals-negative-zero': 'silent' },
    platform: 'node',
    target: 'es2020',
    minify: true,
    bundle: true,
    absWorkingDir: projectDir,
    logLevel: 'silent',
    keepNames: true,
    legalComments: 'none',
  }) satisfies BuildOptions

export const analyseBundle = async (projectDir: string): Promise<BundleBreakdown> => {
  const result = await build({
    ...cliBuildOptions(projectDir),
    outfile: join(projectDir, '.botpress', 'dist', 'bench-analysis.js'),
    write: false,
    metafile: true,
  })
  const [output] = Object.values(result.metafile!.outputs)
  const byOrigin = new Map<string, number>()
  for (const [path, { bytesInOutput }] of Object.entries(output!.inputs)) {
    const origin = originOf(path)
    byOrigin.set(origin, (byOrigin.get(origin) ?? 0) + bytesInOutput)
  }
  return {
    bytes: result.outputFiles![0]!.contents.length,
    actualBytes: statSync(join(projectDir, '.botpress', 'dist', 'index.js')).size,
    byOrigin,
  }
}

/** Origins that are bigger in `ours` than in `base`, largest first. */
export const sizeDifference = (ours: BundleBreakdown, base: BundleBreakdown): Array<[string, number]> => {
  const origins = new Set([...ours.byOrigin.keys(), ...base.byOrigin.keys()])
  return [...origins]
    .map((origin): [string, number] => [origin, (ours.byOrigin.get(origin) ?? 0) - (base.byOrigin.get(origin) ?? 0)])
    .filter(([, bytes]) => bytes !== 0)
    .sort((a, b) => b[1] - a[1])
}
