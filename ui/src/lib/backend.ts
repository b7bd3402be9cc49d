// The only module that talks to Tauri. Everything else imports from here, so the UI could
// run against a mock (or another shell) by replacing this one file.

import { invoke } from '@tauri-apps/api/core'
import { listen, type UnlistenFn } from '@tauri-apps/api/event'
import type {
  CustomerPage, CustomerForm, ExportKind, ImportFormat, OrderAction, OrderForm, ProductForm, RebuildFinished,
  SettingsForm, ShopForm, Status,
  AppInfo, ApiError, ReceiptFile, CashUp, DrawerForm, Receipt, StockAction, StockLevel, Customer, DashboardView, Day, DeadLetter, ImportFinished, ImportProgress, Order, OrderDetail,
  OrderFilter, OrderView, Outcome, Page, Period, Product, SearchHit, Stamped, StatusEvent, Verification,
  JoinForm, SyncView,
} from './types'

// The forms' shapes are the shell's (generated with the rest); screens import them from here.
export type { JoinForm, SyncView, StockAction, CustomerForm, ExportKind, ImportFormat, OrderAction, OrderForm, ProductForm, SettingsForm, ShopForm }

/** Turns whatever a command rejected with into the `{ code, message }` shape. */
export function asApiError(e: unknown): ApiError {
  if (e && typeof e === 'object' && 'code' in e && 'message' in e) {
    return { code: String((e as ApiError).code), message: String((e as ApiError).message) }
  }
  return { code: 'internal', message: String(e) }
}

/**
 * A test-only latency hook, inert unless a test sets it: when `window.__countertopDelay` is a
 * function `(command, args) => ms`, every command's reply (or error) is held back that many
 * milliseconds before the caller sees it. The end-to-end tests use it to make an earlier request
 * answer after a later one, the order a slow disk or a busy core can produce; nothing in the app
 * sets it.
 */
async function testDelay(command: string, args: Record<string, unknown>): Promise<void> {
  const hook = (window as { __countertopDelay?: unknown }).__countertopDelay
  if (typeof hook !== 'function') return
  const ms = Number(hook(command, args))
  if (Number.isFinite(ms) && ms > 0) await new Promise((resolve) => setTimeout(resolve, ms))
}

async function call<T>(command: string, args: Record<string, unknown> = {}): Promise<T> {
  let reply: T
  try {
    reply = await invoke<T>(command, args)
  } catch (e) {
    await testDelay(command, args)
    throw asApiError(e)
  }
  await testDelay(command, args)
  return reply
}

/** A fresh id for one submission of a form; resubmitting the same form reuses it. */
export function newCommandId(): string {
  return `ui-${crypto.randomUUID()}`
}


export const api = {
  appInfo: () => call<AppInfo>('app_info'),
  setupShop: (commandId: string, form: ShopForm) => call<Outcome>('setup_shop', { commandId, form }),
  changeSettings: (commandId: string, form: SettingsForm) => call<Outcome>('change_settings', { commandId, form }),
  loadDemo: () => call<Outcome>('load_demo'),
  previewOrder: (form: OrderForm) => call<Order>('preview_order', { form }),
  placeOrder: (commandId: string, form: OrderForm) => call<Outcome>('place_order', { commandId, form }),
  orderAction: (commandId: string, action: OrderAction) => call<Outcome>('order_action', { commandId, action }),
  /** The order as the action would leave it, recording nothing (the refund's worked-out amount). */
  previewOrderAction: (action: OrderAction) => call<Order>('preview_order_action', { action }),
  saveProduct: (commandId: string, form: ProductForm) => call<Outcome>('save_product', { commandId, form }),
  saveCustomer: (commandId: string, form: CustomerForm) => call<Outcome>('save_customer', { commandId, form }),
  products: () => call<Product[]>('products'),
  customers: () => call<Customer[]>('customers'),
  customerPage: (id: string) => call<Stamped<CustomerPage | null>>('customer_page', { id }),
  orders: (filter: OrderFilter) => call<Stamped<Page<OrderView>>>('orders', { filter }),
  orderDetail: (id: string, asOf: string | null) => call<OrderDetail | null>('order_detail', { id, asOf }),
  search: (query: string, limit = 20) => call<Stamped<Page<SearchHit>>>('search', { query, limit }),
  dashboard: (period: Period) => call<DashboardView>('dashboard', { period }),
  cashup: (day: Day) => call<Stamped<CashUp>>('cashup', { day }),
  stock: () => call<Stamped<StockLevel[]>>('stock'),
  recordDrawer: (commandId: string, form: DrawerForm) => call<Outcome>('record_drawer', { commandId, form }),
  stockAction: (commandId: string, action: StockAction) => call<Outcome>('stock_action', { commandId, action }),
  /** The receipt of an order, or of its refund at `refund` (from 0). */
  receipt: (order: string, refund: number | null) => call<Receipt>('receipt', { order, refund }),
  /** Saves it as a PDF or PNG where the owner picks; null when they cancel. */
  saveReceipt: (order: string, refund: number | null, file: ReceiptFile) =>
    call<string | null>('save_receipt', { order, refund, file }),
  /** Asks where (a dialog the backend opens) and writes the chart or CSV; null when cancelled. */
  export: (kind: ExportKind, period: Period) => call<string | null>('export', { kind, period }),
  status: () => call<Status>('status'),
  deadLetters: () => call<DeadLetter[]>('dead_letters'),
  retryDeadLetters: (position: number | null) => call<DeadLetter[]>('retry_dead_letters', { position }),
  rebuild: () => call<void>('rebuild'),
  /** Asks for a file (a dialog the backend opens) and starts importing it; false when cancelled. */
  importFile: (format: ImportFormat) => call<boolean>('import_file', { format }),
  /** Asks where (a dialog the backend opens) and saves every line the last import rejected. */
  saveRejectedLines: () => call<string | null>('save_rejected_lines'),
  /** Asks where (a dialog the backend opens) and writes a checked backup; null when cancelled. */
  backup: () => call<Verification | null>('backup'),
  /** This device, the hub and the other tills (for the badge and Settings → Sync). */
  syncView: () => call<SyncView>('sync_view'),
  /** Joins a shop on a hub (or starts this shop there), fetches it, and starts syncing. */
  syncJoin: (form: JoinForm) => call<SyncView>('sync_join', { form }),
  syncPause: (paused: boolean) => call<SyncView>('sync_pause', { paused }),
  syncAddTill: (first: boolean) => call<SyncView>('sync_add_till', { first }),
  syncRetire: (till: string, reason: string) => call<SyncView>('sync_retire', { till, reason }),
  conflicts: () => call<Stamped<OrderView[]>>('conflicts'),
  resolveConflicts: (commandId: string, order: string, note: string) =>
    call<Outcome>('resolve_conflicts', { commandId, order, note }),
}

export const events = {
  status: (f: (s: StatusEvent) => void): Promise<UnlistenFn> => listen<StatusEvent>('status', (e) => f(e.payload)),
  importProgress: (f: (p: ImportProgress) => void): Promise<UnlistenFn> =>
    listen<ImportProgress>('import-progress', (e) => f(e.payload)),
  importFinished: (f: (r: ImportFinished) => void): Promise<UnlistenFn> =>
    listen<ImportFinished>('import-finished', (e) => f(e.payload)),
  rebuildFinished: (f: (r: RebuildFinished) => void): Promise<UnlistenFn> =>
    listen<RebuildFinished>('rebuild-finished', (e) => f(e.payload)),
}
