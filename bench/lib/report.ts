/** What each benchmark section hands back: table rows and the notes that explain them. */
export type Verdict = 'PASS' | 'MISS' | 'info'

export interface Row {
  readonly figure: string
  /** Our side: median and p99 (or the single figure). */
  readonly ours: string
  /** The floor / reference side. */
  readonly floor: string
  readonly ratio: string
  readonly target: string
  readonly verdict: Verdict
}

export interface Section {
  readonly title: string
  readonly rows: Row[]
  /** Markdown: how each side is measured, what the numbers mean. */
  readonly notes: string[]
}

export const verdict = (ok: boolean): Verdict => (ok ? 'PASS' : 'MISS')
