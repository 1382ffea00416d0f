/**
 * Reads a V8 .cpuprofile (node --cpu-prof) and sums self time per function, mapped back to the
 * original source through the script's source map when there is one.
 */
import { readFileSync } from 'node:fs'
import { SourceMap } from 'node:module'
import { relative } from 'node:path'
import { fileURLToPath } from 'node:url'

interface ProfileNode {
  readonly id: number
  readonly callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number }
  /** Samples per line of the generated code (1-based lines). */
  readonly positionTicks?: Array<{ line: number; ticks: number }>
}

interface Profile {
  readonly nodes: ProfileNode[]
  readonly samples: number[]
  readonly timeDeltas: number[]
}

export interface HotSpot {
  readonly name: string
  readonly where: string
  /** Self time in ms. */
  readonly selfMs: number
  readonly share: number
}

export interface ProfileSummary {
  readonly totalMs: number
  readonly top: HotSpot[]
  /** Self time by origin: a package, "src/…" (ours), "node internals", "GC", "idle". */
  readonly byOrigin: Array<{ origin: string; selfMs: number; share: number }>
  /** Hottest source lines of our src/ (samples, not ms). */
  readonly hotLines: Array<{ where: string; ticks: number; share: number }>
}

const maps = new Map<string, SourceMap | null>()
const mapFor = (file: string): SourceMap | null => {
  if (!maps.has(file)) {
    let map: SourceMap | null = null
    try {
      map = new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8')))
    } catch {
      map = null
    }
    maps.set(file, map)
  }
  return maps.get(file)!
}

const originOf = (source: string): string => {
  const marker = source.lastIndexOf('node_modules/')
  if (marker >= 0) {
    const parts = source.slice(marker + 'node_modules/'.length).split('/')
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!
  }
  const src = source.indexOf('src/')
  if (src >= 0) return source.slice(src)
  return source
}

export const summarizeProfile = (path: string, root: string, topN = 20): ProfileSummary => {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as Profile
  const selfById = new Map<number, number>()
  profile.samples.forEach((id, i) => selfById.set(id, (selfById.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)))
  const spots = new Map<string, { name: string; where: string; us: number }>()
  const origins = new Map<string, number>()
  let total = 0
  const lineTicks = new Map<string, number>()
  let allTicks = 0
  for (const node of profile.nodes) {
    for (const { ticks } of node.positionTicks ?? []) allTicks += ticks
  }
  for (const node of profile.nodes) {
    const us = selfById.get(node.id) ?? 0
    if (us === 0) continue
    total += us
    const { functionName, url, lineNumber, columnNumber } = node.callFrame
    let name = functionName || '(anonymous)'
    let where = url
    let origin: string
    if (name === '(garbage collector)') origin = 'GC'
    else if (name === '(idle)' || name === '(program)') origin = name
    else if (url === '' || url.startsWith('node:')) origin = 'node internals'
    else {
      const file = url.startsWith('file://') ? fileURLToPath(url) : url
      const entry = mapFor(file)?.findEntry(lineNumber, columnNumber) as
        | { originalSource?: string; originalLine?: number; name?: string }
        | undefined
      if (entry?.originalSource) {
        const source = entry.originalSource.startsWith('file://') ? fileURLToPath(entry.originalSource) : entry.originalSource
        where = `${relative(root, source)}:${(entry.originalLine ?? 0) + 1}`
        origin = originOf(relative(root, source))
        if (origin.startsWith('src/')) origin = 'src/ (ours)'
      } else {
        where = `${relative(root, file)}:${lineNumber + 1}`
        origin = originOf(relative(root, file))
      }
    }
    if (origin === 'src/ (ours)') {
      const file = url.startsWith('file://') ? fileURLToPath(url) : url
      for (const { line, ticks } of node.positionTicks ?? []) {
        const entry = mapFor(file)?.findEntry(line - 1, 0) as { originalSource?: string; originalLine?: number } | undefined
        if (!entry?.originalSource) continue
        const source = entry.originalSource.startsWith('file://') ? fileURLToPath(entry.originalSource) : entry.originalSource
        if (!relative(root, source).startsWith('src/')) continue
        const at = `${relative(root, source)}:${(entry.originalLine ?? 0) + 1}`
        lineTicks.set(at, (lineTicks.get(at) ?? 0) + ticks)
      }
    }
    const key = `${name}@${where}`
    const spot = spots.get(key) ?? { name, where, us: 0 }
    spot.us += us
    spots.set(key, spot)
    origins.set(origin, (origins.get(origin) ?? 0) + us)
    name = ''
  }
  return {
    totalMs: total / 1000,
    top: [...spots.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, topN)
      .map((s) => ({ name: s.name, where: s.where, selfMs: s.us / 1000, share: s.us / total })),
    hotLines: [...lineTicks]
      .sort((a, b) => b[1] - a[1])
      .slice(0, topN)
      .map(([where, ticks]) => ({ where, ticks, share: ticks / Math.max(1, allTicks) })),
    byOrigin: [...origins]
      .sort((a, b) => b[1] - a[1])
      .map(([origin, us]) => ({ origin, selfMs: us / 1000, share: us / total })),
  }
}

export const formatSummary = (summary: ProfileSummary): string =>
  [
    `total sampled ${summary.totalMs.toFixed(0)} ms`,
    'by origin: ' + summary.byOrigin.slice(0, 10).map((o) => `${o.origin} ${(o.share * 100).toFixed(1)}%`).join(', '),
    ...summary.top.map((s) => `${s.selfMs.toFixed(1).padStart(9)} ms ${(s.share * 100).toFixed(1).padStart(5)}%  ${s.name}  ${s.where}`),
    'hottest lines of src/ (share of all samples):',
    ...summary.hotLines.map((l) => `${(l.share * 100).toFixed(1).padStart(6)}%  ${l.where}`),
  ].join('\n')
