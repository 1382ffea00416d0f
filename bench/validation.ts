/**
 * 5. Validating a 1 MiB Send Raw Data body, the largest the card takes, through the bundle:
 * every line is checked before anything is sent, so a body whose last line is invalid is read
 * whole and refused, and the time of that answer is the validation plus the sdk's handling of
 * a 1 MiB request, with no write after it.
 */
import { keepAliveAgent, post } from './lib/http'
import { rawDataOfSize } from './lib/inputs'
import { verdict, type Section } from './lib/report'
import { actionBody, type Stage } from './lib/stage'
import { median, ms, now, p99 } from './lib/stats'

const BODY_BYTES = 1024 * 1024
const TARGET_MS = 250
const INVALID_LAST_LINE = 'checkout,flow=cart amount='

export const runValidation = async (stage: Stage, options: { rounds: number }): Promise<Section> => {
  const { data, lines } = rawDataOfSize(BODY_BYTES, INVALID_LAST_LINE)
  const body = actionBody('sendRawData', { data })
  const agent = keepAliveAgent()
  const times: number[] = []
  try {
    for (let round = 0; round <= options.rounds; round++) {
      const start = now()
      const answer = await post(agent, `${stage.oursUrl}/`, stage.oursHeaders, body)
      const elapsed = now() - start
      if (answer.status === 200 || !answer.text.includes(`line ${lines},`)) {
        throw new Error(`expected a refusal of line ${lines}, got ${answer.status}: ${answer.text.slice(0, 300)}`)
      }
      if (round > 0) times.push(elapsed)
    }
  } finally {
    agent.destroy()
  }
  return {
    title: '5. Validating a 1 MiB Send Raw Data body',
    rows: [
      {
        figure: `Send Raw Data, ${(Buffer.byteLength(data) / 1024).toFixed(0)} KiB (${lines.toLocaleString('en')} lines) refused at its last line, median`,
        ours: `${ms(median(times))} (p99 ${ms(p99(times))})`,
        floor: '—',
        ratio: '—',
        target: `≤ ${TARGET_MS} ms`,
        verdict: verdict(median(times) <= TARGET_MS)
      }
    ],
    notes: [
      `${options.rounds} calls after one warm-up call, one after another, to the bundle served as in section 1. The body is ` +
        `${Buffer.byteLength(data).toLocaleString('en')} bytes (the card's limit is ${BODY_BYTES.toLocaleString('en')}) of lines ` +
        'in four shapes (tags, several fields, integers, booleans, escaped spaces and commas), each its own series, and a last ' +
        `line without a field value (\`${INVALID_LAST_LINE}\`); the bench checks that the refusal names that line. The time runs ` +
        'from the request to the answer read.'
    ]
  }
}
