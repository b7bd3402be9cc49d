// App-wide state: the shop, the read side's freshness, the current screen, notices, and what a
// screen's user chose that should still be there when they come back (the dashboard's range).
import { api, events, asApiError } from './backend'
import { Latest } from './latest'
import { useShopZone } from './format'
import type { AppInfo, ApiError, Day, ImportFinished, ImportProgress, StatusEvent, SyncView } from './types'

export type Screen = 'new-order' | 'orders' | 'dashboard' | 'cashup' | 'catalog' | 'customers' | 'settings' | 'system'

export interface Notice { id: number; kind: 'ok' | 'error'; text: string }

/** The dashboard's range: a preset of `days` ending on `anchor` (null: today), or, with `days`
 *  null, the custom `from`–`to`. */
/** `days`: a preset of the last N days, `'all'` the whole history, `null` the From/To boxes. */
export interface DashboardRange { days: number | 'all' | null; anchor: Day | null; from: Day; to: Day }

class AppState {
  info = $state<AppInfo | null>(null)
  fatal = $state<ApiError | null>(null)
  status = $state<StatusEvent | null>(null)
  screen = $state<Screen>('new-order')
  /** An order to open in the Orders screen (set by search or by New order). */
  openOrder = $state<string | null>(null)
  /** A customer to open in the Customers screen (set by search or by an order). */
  openCustomer = $state<string | null>(null)
  searchOpen = $state(false)
  notices = $state<Notice[]>([])
  /** The running import's progress, and the last import's report (kept across screens). */
  importProgress = $state<ImportProgress | null>(null)
  importFinished = $state<ImportFinished | null>(null)
  /** Bumped whenever the read side moves, so screens can refresh what they show. */
  projected = $state(0)
  /** Kept here, not in the Dashboard screen, so it is still the chosen one after a visit elsewhere. */
  dashboardRange = $state<DashboardRange>({ days: 30, anchor: null, from: '', to: '' })
  /** This device and the shop's other tills (null before the first answer). */
  sync = $state<SyncView | null>(null)
  private nextNotice = 1
  private syncReplies = new Latest()
  private infoReplies = new Latest()
  private statusReplies = new Latest()

  get shop() { return this.info?.shop ?? null }
  get currency() { return this.info?.shop?.currency ?? null }
  get zone() { return this.info?.shop?.time_zone }

  /** Events the read side has not reflected yet (tables; search trails a little). */
  get behind(): number {
    const tables = this.status?.projections.find((p) => p.name === 'tables')
    return tables?.lag_events ?? 0
  }

  async load() {
    await this.infoReplies.ask(
      () => api.appInfo(),
      (info) => { useShopZone(info.shop?.time_zone); this.info = info; this.fatal = null },
      (e) => (this.fatal = e),
    )
  }

  async start() {
    await this.load()
    if (this.fatal) return
    await events.status((s) => {
      // Newer than any status asked for before it.
      this.statusReplies.forget()
      const tables = s.projections.find((p) => p.name === 'tables')
      if (tables) this.projected = tables.checkpoint
      this.status = s
    })
    await events.importProgress((p) => {
      // A new import is under way: the last one's report is history.
      this.importFinished = null
      this.importProgress = p
    })
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
    // On error, nothing: the status event will come.
    // The command's answer says nothing of jobs (the events do): the job known so far stays.
    await this.statusReplies.ask(() => api.status(), (s) => (this.status = { ...s, job: this.status?.job ?? null }))
    await this.refreshSync()
    setInterval(() => void this.refreshSync(), 3000)
  }

  /** Asks the sync state again (every few seconds, and after a change in Settings). */
  async refreshSync() {
    await this.syncReplies.ask(() => api.syncView(), (v) => (this.sync = v), () => {})
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
