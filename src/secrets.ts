/**
 * Keeping the API key out of what the bot builder reads: a server's answer or an error's message
 * could carry it, as typed, URL-encoded, or inside a Basic auth header.
 */

const forms = (userId: string, apiKey: string): string[] => {
  const keys = [...new Set([apiKey, apiKey.trim()])].filter((key) => key !== '')
  return keys.flatMap((key) => [
    Buffer.from(`${userId.trim()}:${key}`).toString('base64'),
    encodeURIComponent(key),
    key
  ])
}

/** `text` with every form of the key replaced by `***`. */
export const scrubSecrets = (text: string, userId: string, apiKey: string): string =>
  forms(userId, apiKey).reduce((scrubbed, secret) => scrubbed.split(secret).join('***'), text)

/** `text` on one line, cut after `max` characters. */
export const oneLine = (text: string, max: number): string => {
  const line = text.replace(/\s+/gu, ' ').trim()
  return line.length > max ? `${line.slice(0, max)}…` : line
}
