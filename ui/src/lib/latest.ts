// Answers to the question being asked now, never to an older one.
//
// A screen asks the backend again whenever its inputs change (a range, a filter, a page, the
// text in the search box). Replies do not come back in the order they were asked: a wide range
// takes longer than a narrow one, and a busy disk delays anything. A screen that simply
// assigned each reply as it came would show the answer to whichever question was answered
// last — the numbers of the range the user left a second ago. Each screen keeps one `Latest`
// per thing it loads and asks through it: a reply is used only if nothing was asked after it.

import { asApiError } from './backend'
import type { ApiError } from './types'

export class Latest {
  #asked = 0

  /**
   * Asks `question`; when its reply comes and no later question was asked (and `forget` was
   * not called) meanwhile, hands it to `answer` — or the error to `failed`. Resolves to whether
   * the reply was used.
   */
  async ask<T>(question: () => Promise<T>, answer: (reply: T) => void, failed?: (error: ApiError) => void): Promise<boolean> {
    const mine = ++this.#asked
    let reply: T
    try {
      reply = await question()
    } catch (e) {
      if (mine !== this.#asked) return false
      failed?.(asApiError(e))
      return true
    }
    if (mine !== this.#asked) return false
    answer(reply)
    return true
  }

  /** Drops the replies to everything asked so far: the inputs went away, or the screen closed. */
  forget(): void {
    this.#asked++
  }
}
