// App-wide state: the shop, the read side's freshness, the current screen, notices.
import { api, events, asApiError } from './backend'
import type { AppInfo, ApiError, ImportFinished, ImportProgress, StatusEvent } from './types'

export type Screen = 'new-order' | 'orders' | 'dashboard' | 'catalog' | 'customers' | 'settings' | 'system'

export interface Notice { id: number; kind: 'ok' | 'error'; text: string }

class AppState {
  info = $state<AppInfo | null>(null)
  fatal = $state<ApiError | null>(null)
  status = $state<StatusEvent | null>(null)
  screen = $state<Screen>('new-order')
  /** An order to open in the Orders screen (set by search or by New order). */
  openOrder = $state<string | null>(null)
  searchOpen = $state(false)
  notices = $state<Notice[]>([])
  /** The running import's progress, and the last import's report (kept across screens). */
  importProgress = $state<ImportProgress | null>(null)
  importFinished = $state<ImportFinished | null>(null)
  /** Bumped whenever the read side moves, so screens can refresh what they show. */
  projected = $state(0)
  private nextNotice = 1

  get shop() { return this.info?.shop ?? null }
  get currency() { return this.info?.shop?.currency ?? null }
  get zone() { return this.info?.shop?.time_zone }

  /** Events the read side has not reflected yet (tables; search trails a little). */
  get behind(): number {
    const tables = this.status?.projections.find((p) => p.name === 'tables')
    return tables?.lag_events ?? 0
  }

  async load() {
    try {
      this.info = await api.appInfo()
      this.fatal = null
    } catch (e) {
      this.fatal = asApiError(e)
    }
  }

  async start() {
    await this.load()
    if (this.fatal) return
    await events.status((s) => {
      const tables = s.projections.find((p) => p.name === 'tables')
      if (tables) this.projected = tables.checkpoint
      this.status = s
    })
    await events.importProgress((p) => (this.importProgress = p))
    await events.importFinished((f) => {
      this.importFinished = f
      this.importProgress = null
      if (f.error) this.notify('error', `${f.file}: ${f.error.message}`)
      else this.notify('ok', `Import of ${f.file} finished.`)
    })
    await events.rebuildFinished((r) => {
      if (r.error) this.notify('error', r.error.message)
      else this.notify('ok', 'Rebuild finished; reports and search are up to date.')
    })
    try {
      this.status = await api.status()
    } catch {
      // The status event will come.
    }
  }

  go(screen: Screen) {
    this.screen = screen
  }

  notify(kind: Notice['kind'], text: string) {
    const id = this.nextNotice++
    // At most three at a time: the newest matter, and more would cover the screen.
    this.notices = [...this.notices, { id, kind, text }].slice(-3)
    setTimeout(() => (this.notices = this.notices.filter((n) => n.id !== id)), kind === 'error' ? 8000 : 4000)
  }
}

export const app = new AppState()
