/**
 * CPU profiles behind the figures in RESULTS.md (not part of `npm run bench`):
 *
 *   npx tsx bench/profile.ts encode-ours     # buildMetricEvent, 300k lines
 *   npx tsx bench/profile.ts encode-point    # Point.toLineProtocol, same inputs
 *   npx tsx bench/profile.ts validate        # parseRawData, 10 × 1 MiB
 *   npx tsx bench/profile.ts integration     # the bundle's handler during the overhead benchmark
 *
 * The code is bundled with esbuild and a source map (for `integration`: the CLI's own bundle
 * options, plus the map), run under `node --cpu-prof`, and the profile's self time is summed per
 * function and per origin (our src/, each package, node internals, GC), mapped to the sources.
 * Profiles are kept in a temp folder whose path is printed.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { build } from 'esbuild'
import { formatSummary, summarizeProfile } from './lib/cpuprofile'
import { runOverhead } from './overhead'

const REPO = resolve(__dirname, '..')

const main = async (): Promise<void> => {
  const mode = process.argv[2] ?? ''
  const dir = mkdtempSync(join(tmpdir(), `bench-profile-${mode}-`))
  if (['encode-ours', 'encode-point', 'validate'].includes(mode)) {
    const outfile = join(dir, 'harness.js')
    await build({
      entryPoints: [join(__dirname, 'profile-harness.ts')],
      bundle: true,
      platform: 'node',
      target: 'es2022',
      sourcemap: true,
      outfile,
      absWorkingDir: REPO,
      logLevel: 'warning',
    })
    execFileSync(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, outfile, mode], { stdio: 'inherit' })
  } else if (mode === 'integration') {
    // The CLI's bundle (see bench/lib/bundle.ts) with a source map, in the temp folder.
    const outfile = join(dir, 'index.js')
    await build({
      stdin: { contents: "import x from './src/index'; export default x; export const handler = x.handler;", resolveDir: REPO, loader: 'ts' },
      logOverride: { 'equals-negative-zero': 'silent' },
      platform: 'node',
      target: 'es2020',
      minify: true,
      bundle: true,
      outfile,
      absWorkingDir: REPO,
      logLevel: 'silent',
      keepNames: true,
      legalComments: 'none',
      sourcemap: true,
    })
    await runOverhead({ n: Number(process.env.PROFILE_N ?? 1500), rounds: 1, warmup: 200, profileDir: dir, bundle: outfile })
  } else {
    throw new Error('usage: tsx bench/profile.ts encode-ours|encode-point|validate|integration')
  }
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
    console.log(`\n${join(dir, file)}\n${formatSummary(summarizeProfile(join(dir, file), REPO, 30))}`)
  }
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
