/**
 * The one way a Send Raw Data line is refused: InfluxDB's grammar (`syntax`) and every stricter
 * rule of ours throw the same error, placed first in its line and then, by the body's parser, at
 * the line and column a bot builder can find.
 */
import type { LabelRule } from '../label-names'

/** Why a line is refused. `syntax` is InfluxDB's own grammar; every other rule is ours, stricter than InfluxDB. */
export type Rule =
  | LabelRule
  | 'syntax'
  | 'timestamp'
  | 'measurement-whitespace'
  | 'non-ascii-name'
  | 'control-character'
  | 'ambiguous-fields'
  | 'string-field'
  | 'unsigned-field'
  | 'duplicate-field'
  | 'too-many-labels'
  | 'duplicate-series'
  | 'body-too-large'
  | 'line-break'

export class LineProtocolError extends Error {
  public override readonly name = 'LineProtocolError'
  public constructor(
    public readonly rule: Rule,
    /** Where in its line, in UTF-16 units. */
    public readonly index: number,
    public readonly reason: string,
    /** 1-based line and column in the body; 0 until the body's parser places the refusal. */
    public readonly line: number = 0,
    public readonly column: number = 0
  ) {
    super(line > 0 ? `line ${line}, column ${column}: ${reason}` : reason)
  }

  /** The same refusal, placed at a line and column of the body. */
  public placed(line: number, column: number): LineProtocolError {
    return new LineProtocolError(this.rule, this.index, this.reason, line, column)
  }
}

/** A refusal by InfluxDB's grammar. */
export const syntaxError = (index: number, reason: string): LineProtocolError =>
  new LineProtocolError('syntax', index, reason)
