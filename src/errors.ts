/** A failure whose message is written for the bot builder: what went wrong and what to do. */
export class UserFacingError extends Error {
  override readonly name = 'UserFacingError'
}
