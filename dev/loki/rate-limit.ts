/**
 * The distributor's per-tenant ingestion rate limit (`ingestion_rate_mb`,
 * `ingestion_burst_size_mb`): a token bucket of bytes, as golang.org/x/time/rate's `AllowN`. A
 * push whose kept lines and metadata need more bytes than the bucket holds is refused whole
 * (429) and takes nothing from it.
 */

export interface IngestionRate {
  readonly bytesPerSecond: number
  readonly burstBytes: number
}

export class TokenBucket {
  private _tokens: number
  private _at = performance.now()

  public constructor(private readonly _rate: IngestionRate) {
    this._tokens = _rate.burstBytes
  }

  public allow(bytes: number): boolean {
    const now = performance.now()
    this._tokens = Math.min(this._rate.burstBytes, this._tokens + ((now - this._at) / 1000) * this._rate.bytesPerSecond)
    this._at = now
    if (bytes > this._tokens) {
      return false
    }
    this._tokens -= bytes
    return true
  }

  public message(tenant: string, lines: number, bytes: number): string {
    return `Ingestion rate limit exceeded for user ${tenant} (limit: ${Math.trunc(this._rate.bytesPerSecond)} bytes/sec) while attempting to ingest '${lines}' lines totaling '${bytes}' bytes, reduce log volume or contact your Loki administrator to see if the limit can be increased`
  }
}
