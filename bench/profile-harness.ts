/**
 * A hot loop for `bench/profile.ts`: bundled with a source map and run under `node --cpu-prof`.
 * argv[2]: encode-ours | encode-point | validate
 */
import { parseRawData } from '../src/line-protocol/validate'
import { cases, mixedBody, ours, theirs } from './encoding'

const mode = process.argv[2]
let sink = 0
if (mode === 'validate') {
  const { body } = mixedBody()
  for (let i = 0; i < 10; i++) sink += parseRawData(body).length
} else {
  const all = cases()
  const build = mode === 'encode-ours' ? ours : theirs
  for (let i = 0; i < 300_000; i++) {
    sink += build(all[i % all.length]!).length
  }
}
if (sink === 0) throw new Error('nothing computed')
