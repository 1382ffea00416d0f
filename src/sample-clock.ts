/**
 * Which sample a write lands on: the `instance` label and the timestamp every line gets.
 *
 * Grafana Cloud (Mimir) keeps one sample per series and millisecond: a second sample with the
 * same value is merged without a word, one with another value is refused (400). Botpress Cloud
 * runs the integration as many serverless instances that share nothing, so two calls with the
 * same name and labels can be stamped with the same millisecond, in one instance or in two.
 *
 * - Two instances never write the same series: each names itself with a random `instance`
 *   label when it starts (64 random bits: the chance that two of a thousand live instances
 *   draw the same name is about 3e-14). The values are few: one per instance alive in the
 *   last ~20 minutes (Mimir's "active" window), never one per event or conversation.
 * - One instance never stamps two calls with the same millisecond: each call takes the time of
 *   the call, or one past the last one it gave out, so calls at once and calls one after
 *   another all get their own millisecond.
 * - Above 1,000 calls per second an instance's clock runs ahead of real time. Queries at "now"
 *   do not see samples from the future, and Mimir refuses them 10 minutes ahead, so once the
 *   lead passes a minute the instance takes a new name and starts over at the real time: new
 *   series instead of late or refused samples.
 *
 * A retried write resends the same lines, so it lands on the sample of its first attempt.
 */
import { randomBytes } from 'node:crypto'
import { INSTANCE_NAME_LENGTH } from './label-names'

const MAX_LEAD_MS = 60_000

const newInstanceName = (): string => randomBytes(8).readBigUInt64BE().toString(36).padStart(INSTANCE_NAME_LENGTH, '0')

export interface Stamp {
  /** The value of the `instance` label. */
  readonly instance: string
  /** Milliseconds since the Unix epoch, never given out twice with the same instance. */
  readonly timestamp: number
}

export class SampleClock {
  private _instance = newInstanceName()
  private _last = Number.NEGATIVE_INFINITY

  public constructor(private readonly _now: () => number = Date.now) {}

  /** The instance and millisecond for the next write. */
  public next(): Stamp {
    const now = this._now()
    let timestamp = Math.max(now, this._last + 1)
    if (timestamp - now > MAX_LEAD_MS) {
      this._instance = newInstanceName()
      timestamp = now
    }
    this._last = timestamp
    return { instance: this._instance, timestamp }
  }
}

/** The clock of this instance: one per process, shared by every card. */
export const sampleClock = new SampleClock()
