// The shapes the shell returns (serde JSON of countertop-core types). Money and rates are
// decimal strings, never floats; times are UTC RFC 3339; days are `YYYY-MM-DD` business days.

export type Money = string
export type Day = string

export interface ApiError { code: string; message: string }

export interface Shop {
  name: string; currency: string; time_zone: string; day_start: string
  prices_include_tax: boolean; default_tax_rate: string
}

export interface Product {
  sku: string; name: string; unit_price: Money; tax_rate: string; image: string | null; archived: boolean
  /** Postage, fees: left out of the top products. Left out of the JSON when false. */
  not_merchandise?: boolean
}

export interface Customer { id: string; name: string; email: string | null; phone: string | null; country: string | null }
export interface CustomerStats {
  orders: number; lifetime_value: Money; refunds: Money; first_order: string | null; last_order: string | null
}
/** `customer_page`: who the customer is and their numbers (orders come from `orders`). */
export interface CustomerPage { customer: Customer; stats: CustomerStats; average_order: Money | null }

/** `completed`: imported history, closed business. */
export type OrderStatus = 'pending' | 'shipped' | 'delivered' | 'cancelled' | 'completed'

export interface OrderLine {
  from_catalog: boolean; sku: string | null; name: string; quantity: number; unit_price: Money; tax_rate: string; total: Money
}
export interface Totals { subtotal: Money; discount: Money; tax: Money; total: Money }
export interface Shipment { carrier: string; tracking: string; at: string }
/** Units of an order line (`line` from 0) a refund gave back. */
export interface RefundedLine { line: number; quantity: number }
/** `lines` is left out when the refund named an amount only. */
export interface Refund { amount: Money; reason: string; at: string; lines?: RefundedLine[] }

export interface Order {
  id: string; customer: { id: string; name: string } | null; lines: OrderLine[]; totals: Totals; currency: string
  note: string | null; payment_method: string | null; placed_at: string; status: OrderStatus
  shipment: Shipment | null; delivered_at: string | null; cancellation: { reason: string; at: string } | null
  refunds: Refund[]
}

export interface OrderView {
  id: string; customer: { id: string; name: string; email: string | null; country: string | null } | null
  lines: { sku: string | null; name: string; quantity: number; unit_price: Money; total: Money }[]
  totals: Totals; currency: string; note: string | null; payment_method: string | null; status: OrderStatus
  placed_at: string; business_day: Day; shipment: Shipment | null; delivered_at: string | null
  cancellation: { reason: string; at: string } | null; refunds: Refund[]; refunded: Money; version: number; position: number
}

export type Entity =
  | ({ kind: 'shop' } & Shop)
  | ({ kind: 'product' } & Product)
  | ({ kind: 'customer' } & Customer)
  | ({ kind: 'order' } & Order)
  | { kind: 'return'; id: string }

export interface Outcome {
  command_id: string; positions: [number, number] | null; stream: string; stream_version: number
  entity: Entity; replayed: boolean
}

export interface Stamped<T> { value: T; position: number; head: number; lag_events: number }
export interface Page<T> { items: T[]; total: number; offset: number; limit: number }
export interface Period { from: Day; to: Day }

export interface OrderFilter {
  status: OrderStatus | null; from: Day | null; to: Day | null; customer: string | null; offset: number; limit: number
}

export interface TimelineItem {
  position: number; version: number; event_type: string; recorded_at: string; command_id: string
  payload: Record<string, unknown>
}
export interface OrderDetail { order: Order; as_of: string | null; timeline: TimelineItem[]; shown: number; refundable: Money }

export interface SearchHit { kind: 'order' | 'customer' | 'product'; id: string; title: string; subtitle: string; score: number }

export interface Kpis {
  net: Money; gross: Money; refunds: Money; orders: number; items: number; average_order_value: Money | null
  unique_customers: number; cancelled: number
}
export interface SeriesPoint { day: Day; net: Money; gross: Money; refunds: Money; orders: number; items: number }
export interface TopProduct { sku: string | null; name: string; units: number; revenue: Money }
export interface Dashboard {
  currency: string | null; period: Period; previous_period: Period; kpis: Kpis; previous_kpis: Kpis
  series: SeriesPoint[]; top_products: TopProduct[]
  /** What sold that is not merchandise (postage, fees): in the takings, not in `top_products`. */
  not_merchandise: TopProduct[]
}
export interface ChartPoint { start: Day; label: string; net: Money; orders: number }
export interface ChartGeometry { width: number; plot_left: number; plot_right: number }
export interface DashboardView extends Stamped<Dashboard> {
  revenue_svg: string; orders_svg: string; latest_day: Day | null
  /** The charts' marks: days, weeks or months, following the range. */
  bucket: 'day' | 'week' | 'month'; points: ChartPoint[]; revenue_geometry: ChartGeometry; orders_geometry: ChartGeometry
}

export interface Progress { what: string; done: number; total: number; rate: number; eta_seconds: number | null }
export interface ProjectionStatus { name: string; checkpoint: number; lag_events: number; lag_ms: number }
export type Job = { kind: 'import'; file: string } | { kind: 'rebuild' }
export interface StatusEvent {
  head: number; projections: ProjectionStatus[]; dead_letters: number; rebuild: Progress | null
  notes: string[]; failing: string | null; job?: Job | null
}

export interface DeadLetter { position: number; projection: string; event_type: string | null; error: string; recorded_at: string | null }

export interface ImportProgress { lines: number; bytes_read: number; bytes_total: number; lines_per_second: number; eta_seconds: number | null }
export interface RejectedLine { line: number; order: string | null; group: string; reason: string; amount: Money | null }
export interface ImportReport {
  format: string; currency: string; file_hash: string; lines: number; imported_lines: number; orders: number
  returns: number; refunds: number; customers_created: number; customers_merged: number; products: number
  already_imported: number; in_shop_documents: number; in_shop_lines: number; in_shop_sum: Money; in_shop_updates: number
  renumbered_count: number; renumbered: { line: number; number: string; recorded_as: string; reason: string }[]
  rejected_count: number; rejected_groups: { group: string; lines: number; amount: Money }[]
  /** The first 100 rejected lines (lowest line numbers); all of them are in `rejected_csv`. */
  rejected: RejectedLine[]; rejected_csv: string | null
  sku_spellings: { sku: string; recorded_as: string; lines: number }[]; warnings: string[]
  file_sum: Money; imported_net: Money; rejected_sum: Money; rounding: Money; discounts_and_tax: Money
  difference: Money; missing: { number: string; first_line: number; last_line: number; amount: Money }[]
  reconciles: boolean; seconds: number
}
export interface ImportFinished { file: string; report: ImportReport | null; statement: string[]; error: ApiError | null }

export interface Verification { events: number; head_hash: string | null; first_bad: [number, string] | null }

export interface AppInfo { version: string; data_dir: string; shop: Shop | null; today: Day | null; job: Job | null }
