/**
 * The ingester's rules and the stored entries (Loki 3.4, pkg/ingester/{instance,stream}.go and
 * pkg/chunkenc/unordered.go), for one tenant.
 *
 *  - A stream is its sorted label set. Creating one past `maxStreams` refuses its entries (429).
 *  - Per stream, in request order: an entry with the timestamp and line of the stream's last
 *    accepted entry is skipped silently; one more than `maxChunkAge / 2` (1 h) behind the
 *    stream's newest accepted timestamp is refused (`entry too far behind`), the others go on.
 *  - An entry whose stream already holds the same nanosecond and the same line is merged away
 *    silently (the first one stays, structured metadata included); the same nanosecond with
 *    another line is kept beside it.
 *  - An empty line is accepted and never shown (see the module header of ../loki.ts).
 *  - As Loki's instance.Push overwrites its error with each stream it pushes, a request answers
 *    with the outcome of its last stream only; the entries of every stream are kept regardless.
 *
 * Entries of a stream are kept sorted by timestamp, those of one nanosecond in the order they
 * were written; timestamps in a BigInt64Array, lines in an array, structured metadata as an
 * index into a table of the distinct sets, so a million lines stay compact.
 */
import { goTimeString, rfc3339 } from './go'
import type { Labels } from './labels'
import type { AcceptedEntry, AcceptedStream } from './push'

export interface StoreLimits {
  readonly maxStreams: number
  readonly outOfOrderWindowNs: bigint
  readonly maxReturnedErrors: number
}

export interface StoreCounts {
  readonly streams: number
  /** Entries kept (visible to queries). */
  readonly stored: number
  /** Entries merged into an identical one (same stream, nanosecond and line), silently. */
  readonly duplicatesMerged: number
  /** Empty lines accepted and dropped. */
  readonly emptyLinesDropped: number
  /** Entries refused for being too far behind their stream's newest one. */
  readonly tooFarBehind: number
}

export interface PushOutcome {
  readonly status: number
  readonly message: string
}

/** Room for `needed` elements: the array itself, or a copy twice as long. */
const grow = <T extends { readonly length: number; set(source: T): void }>(
  array: T,
  needed: number,
  make: (n: number) => T
): T => {
  if (needed <= array.length) {
    return array
  }
  const bigger = make(Math.max(needed, array.length * 2))
  bigger.set(array)
  return bigger
}

export class StoredStream {
  private _ts = new BigInt64Array(16)
  private _meta = new Uint32Array(16)
  private readonly _lines: string[] = []
  private _lastTs: bigint | undefined
  private _lastLine = ''
  private _highestTs: bigint | undefined

  public constructor(
    public readonly labels: Labels,
    public readonly key: string
  ) {}

  public get length(): number {
    return this._lines.length
  }

  public tsAt(i: number): bigint {
    return this._ts[i] as bigint
  }

  public lineAt(i: number): string {
    return this._lines[i] as string
  }

  public metadataIdAt(i: number): number {
    return this._meta[i] as number
  }

  /** The first index whose timestamp is at least `ts` (or after it, with `after`). */
  public search(ts: bigint, after = false): number {
    let lo = 0
    let hi = this._lines.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      const at = this._ts[mid] as bigint
      if (at < ts || (after && at === ts)) {
        lo = mid + 1
      } else {
        hi = mid
      }
    }
    return lo
  }

  /**
   * The ingester's admission: a repeat of the last accepted entry is skipped (counted in
   * `repeated`), one too far behind is refused (its error line kept), the rest goes on.
   */
  public admit(
    entries: readonly AcceptedEntry[],
    windowNs: bigint
  ): { kept: AcceptedEntry[]; refused: string[]; repeated: number } {
    const kept: AcceptedEntry[] = []
    const refused: string[] = []
    let repeated = 0
    for (const entry of entries) {
      if (entry.ts === this._lastTs && entry.line === this._lastLine) {
        repeated++
        continue
      }
      if (this._highestTs !== undefined && entry.ts < this._highestTs - windowNs) {
        const cutoff = this._highestTs - windowNs
        refused.push(
          `entry with timestamp ${goTimeString(entry.ts)} ignored, reason: 'entry too far behind, entry timestamp is: ${rfc3339(entry.ts)}, oldest acceptable timestamp is: ${rfc3339(cutoff)}',\n`
        )
        continue
      }
      this._lastTs = entry.ts
      this._lastLine = entry.line
      if (this._highestTs === undefined || entry.ts > this._highestTs) {
        this._highestTs = entry.ts
      }
      kept.push(entry)
    }
    return { kept, refused, repeated }
  }

  /** Whether the stream holds this nanosecond with this line. */
  public holds(ts: bigint, line: string): boolean {
    const end = this.search(ts, true)
    for (let i = this.search(ts); i < end; i++) {
      if (this._lines[i] === line) {
        return true
      }
    }
    return false
  }

  /** Stores one entry after those of its nanosecond. */
  public insert(ts: bigint, line: string, metadataId: number): void {
    const end = this.search(ts, true)
    const n = this._lines.length
    this._ts = grow(this._ts, n + 1, (size) => new BigInt64Array(size))
    this._meta = grow(this._meta, n + 1, (size) => new Uint32Array(size))
    if (end < n) {
      this._ts.copyWithin(end + 1, end, n)
      this._meta.copyWithin(end + 1, end, n)
      this._lines.splice(end, 0, line)
    } else {
      this._lines.push(line)
    }
    this._ts[end] = ts
    this._meta[end] = metadataId
  }
}

export class LogStore {
  private readonly _streams = new Map<string, StoredStream>()
  private readonly _metadataIds = new Map<string, number>()
  private readonly _metadataSets: Labels[] = []
  private _stored = 0
  private _merged = 0
  private _empty = 0
  private _tooFarBehind = 0

  public constructor(
    private readonly _limits: StoreLimits,
    private readonly _tenant: string
  ) {}

  public streams(): StoredStream[] {
    return [...this._streams.values()]
  }

  public metadata(id: number): Labels {
    return this._metadataSets[id] ?? []
  }

  public counts(): StoreCounts {
    return {
      streams: this._streams.size,
      stored: this._stored,
      duplicatesMerged: this._merged,
      emptyLinesDropped: this._empty,
      tooFarBehind: this._tooFarBehind
    }
  }

  private _metadataId(metadata: Labels): number {
    const key = JSON.stringify(metadata)
    let id = this._metadataIds.get(key)
    if (id === undefined) {
      id = this._metadataSets.length
      this._metadataSets.push(metadata)
      this._metadataIds.set(key, id)
    }
    return id
  }

  private _pushStream(stream: AcceptedStream): PushOutcome | undefined {
    let stored = this._streams.get(stream.key)
    if (stored === undefined) {
      if (this._streams.size >= this._limits.maxStreams) {
        return {
          status: 429,
          message: `Maximum active stream limit exceeded when trying to create stream ${stream.key}, reduce the number of active streams (reduce labels or reduce label values), or contact your Loki administrator to see if the limit can be increased, user: '${this._tenant}'`
        }
      }
      stored = new StoredStream(stream.labels, stream.key)
      this._streams.set(stream.key, stored)
    }
    const { kept, refused, repeated } = stored.admit(stream.entries, this._limits.outOfOrderWindowNs)
    this._merged += repeated
    for (const entry of kept) {
      if (entry.line === '') {
        this._empty++
      } else if (stored.holds(entry.ts, entry.line)) {
        this._merged++
      } else {
        stored.insert(entry.ts, entry.line, this._metadataId(entry.metadata))
        this._stored++
      }
    }
    if (refused.length === 0) {
      return undefined
    }
    this._tooFarBehind += refused.length
    const listed = refused.slice(0, this._limits.maxReturnedErrors).join('')
    return {
      status: 400,
      message: `${listed}user '${this._tenant}', total ignored: ${refused.length} out of ${stream.entries.length} for stream: ${stream.key}`
    }
  }

  /** The ingester's push: every stream is written; the answer is the last stream's outcome. */
  public push(streams: readonly AcceptedStream[]): PushOutcome | undefined {
    let outcome: PushOutcome | undefined
    for (const stream of streams) {
      outcome = this._pushStream(stream)
    }
    return outcome
  }

  public clear(): void {
    this._streams.clear()
    this._metadataIds.clear()
    this._metadataSets.length = 0
    this._stored = 0
    this._merged = 0
    this._empty = 0
    this._tooFarBehind = 0
  }
}
