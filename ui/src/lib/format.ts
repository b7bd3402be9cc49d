// Display formatting. Money arrives as exact decimal strings and is formatted as text: it is
// never turned into a float, so what is shown is exactly what was recorded.

import type { Payment, Tender } from './bindings'

const symbols = new Map<string, { symbol: string; before: boolean }>()

function currencySymbol(currency: string): { symbol: string; before: boolean } {
  let found = symbols.get(currency)
  if (!found) {
    try {
      const parts = new Intl.NumberFormat('en-GB', { style: 'currency', currency, currencyDisplay: 'narrowSymbol' }).formatToParts(1)
      const i = parts.findIndex((p) => p.type === 'currency')
      const n = parts.findIndex((p) => p.type === 'integer')
      found = { symbol: parts[i]?.value ?? currency, before: i < n }
    } catch {
      found = { symbol: currency + ' ', before: true }
    }
    symbols.set(currency, found)
  }
  return found
}

/** Groups the integer part of a decimal string by thousands: "1234567.50" → "1,234,567.50". */
export function groupDigits(decimal: string): string {
  const negative = decimal.startsWith('-')
  const [int, frac] = (negative ? decimal.slice(1) : decimal).split('.')
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, ',')
  return (negative ? '-' : '') + grouped + (frac !== undefined ? '.' + frac : '')
}

/** "1234.5", "GBP" → "£1,234.50" (two places at least; more when the amount has them). */
export function money(amount: string | null | undefined, currency: string | null | undefined): string {
  if (amount === null || amount === undefined || amount === '') return '—'
  let text = amount
  const dot = text.indexOf('.')
  if (dot < 0) text += '.00'
  else if (text.length - dot - 1 === 1) text += '0'
  const negative = text.startsWith('-')
  const body = groupDigits(negative ? text.slice(1) : text)
  if (!currency) return (negative ? '-' : '') + body
  const { symbol, before } = currencySymbol(currency)
  return (negative ? '−' : '') + (before ? symbol + body : body + ' ' + symbol)
}

export function count(n: number): string {
  return groupDigits(String(n))
}

/** 1, "product" → "1 product"; 3926 → "3,926 products" (`many` when the plural is not +s). */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${count(n)} ${n === 1 ? one : many}`
}

/** How many a filtered list shows: "4,339 customers", or "3 of 4,339 customers" while filtering. */
export function shownOf(matching: number, total: number, filtering: boolean, one: string, many = `${one}s`): string {
  return filtering ? `${count(matching)} of ${plural(total, one, many)}` : plural(total, one, many)
}

// Dates are written the way the shop's country writes them: 28/11/2026 for a shop in Europe
// (and most of the world), 11/28/2026 for one in the Americas' US-style zones. Set from the
// shop's time zone when the app loads (`useShopZone`).
let dateLocale = 'en-GB'

export function useShopZone(zone: string | null | undefined): void {
  dateLocale = zone && /^(America|US)\//.test(zone) ? 'en-US' : 'en-GB'
}

/** How a typed date should look in this shop: "dd/mm/yyyy" or "mm/dd/yyyy". */
export function dayPattern(): string {
  return dateLocale === 'en-US' ? 'mm/dd/yyyy' : 'dd/mm/yyyy'
}

/** A business day `YYYY-MM-DD` in the shop's numeric format ("28/11/2026"); '' for ''. */
export function formatDay(iso: string | null | undefined): string {
  if (!iso) return ''
  const [y, m, d] = iso.split('-').map(Number)
  if (!y || !m || !d) return iso
  return new Intl.DateTimeFormat(dateLocale, { timeZone: 'UTC', year: 'numeric', month: '2-digit', day: '2-digit' })
    .format(new Date(Date.UTC(y, m - 1, d)))
}

/** A typed date as `YYYY-MM-DD`, or null when it is not a real date. Takes the shop's order
 *  (28/11/2026, 28.11.26, 28-11-2026) or ISO (2026-11-28); a two-digit year is 20xx. */
export function parseDay(text: string): string | null {
  const t = text.trim()
  let y: number, m: number, d: number
  const iso = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(t)
  const local = /^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})$/.exec(t)
  if (iso) {
    ;[y, m, d] = [Number(iso[1]), Number(iso[2]), Number(iso[3])]
  } else if (local) {
    const [a, b] = [Number(local[1]), Number(local[2])]
    ;[d, m] = dateLocale === 'en-US' ? [b, a] : [a, b]
    y = Number(local[3]) + (local[3].length === 2 ? 2000 : 0)
  } else {
    return null
  }
  const date = new Date(Date.UTC(y, m - 1, d))
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== m - 1 || date.getUTCDate() !== d) return null
  return `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`
}

/** A UTC instant shown in the shop's time zone. */
export function dateTime(utc: string | null | undefined, timeZone: string | undefined): string {
  if (!utc) return '—'
  try {
    return new Intl.DateTimeFormat(dateLocale, {
      timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit',
    }).format(new Date(utc))
  } catch {
    return utc
  }
}

/** The calendar date of a UTC instant in the shop's time zone, as the shop writes it. */
export function dateIn(utc: string | null | undefined, timeZone: string | undefined): string {
  if (!utc) return '—'
  try {
    return new Intl.DateTimeFormat(dateLocale, { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(utc))
  } catch {
    return utc
  }
}

/** A business day `YYYY-MM-DD` as the shop writes it ("03/05/2024"), or "—". */
export function day(d: string | null | undefined): string {
  return d ? formatDay(d) : '—'
}

/** The relative change from `before` to `now` as "+12.5 %", or null when it has no meaning. */
export function delta(now: string | number, before: string | number): { text: string; up: boolean } | null {
  const a = Number(now)
  const b = Number(before)
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) return null
  const change = ((a - b) / Math.abs(b)) * 100
  const sign = change > 0 ? '+' : change < 0 ? '−' : '±'
  return { text: `${sign}${Math.abs(change).toFixed(1)} %`, up: change >= 0 }
}

/** `YYYY-MM-DD` of `from` moved by `days`. */
export function addDays(from: string, days: number): string {
  const [y, m, d] = from.split('-').map(Number)
  const t = new Date(Date.UTC(y, m - 1, d + days))
  return t.toISOString().slice(0, 10)
}

export const statusLabel: Record<string, string> = {
  pending: 'Placed', shipped: 'Shipped', delivered: 'Delivered', cancelled: 'Cancelled', completed: 'Completed',
}

/** How an order was paid, in words ("card" → "Card", "transfer" → "Bank transfer"). */
export function paymentLabel(method: string | null | undefined): string {
  if (!method) return '—'
  const known: Record<string, string> = { card: 'Card', cash: 'Cash', transfer: 'Bank transfer', other: 'Other' }
  return known[method] ?? method
}

export const tenderLabel: Record<Tender, string> = { cash: 'Cash', card: 'Card', gift_card: 'Gift card', other: 'Other' }

/** An exact decimal string as a whole number of 10^-places, or null when it is not one. */
function scaled(decimal: string, places: number): bigint | null {
  const m = /^(-?)(\d*)(?:\.(\d*))?$/.exec(decimal.trim())
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return null
  const frac = (m[3] ?? '').padEnd(places, '0')
  if (frac.length > places) return null
  const n = BigInt((m[2] || '0') + frac)
  return m[1] ? -n : n
}

/**
 * `a − b` exactly, for decimal strings ("20.00" − "6.00" → "14.00"): change and what is left
 * to pay are worked out as text, never as floats. Null when either is not a number.
 */
export function subtract(a: string, b: string): string | null {
  const places = Math.max(a.split('.')[1]?.length ?? 0, b.split('.')[1]?.length ?? 0)
  const x = scaled(a, places)
  const y = scaled(b, places)
  if (x === null || y === null) return null
  const d = x - y
  const negative = d < 0n
  const digits = (negative ? -d : d).toString().padStart(places + 1, '0')
  const int = digits.slice(0, digits.length - places)
  const frac = places ? '.' + digits.slice(digits.length - places) : ''
  return (negative ? '-' : '') + int + frac
}

/**
 * What is still to pay on an order, exactly: its total less every payment ("16.00" less a
 * "10.00" card payment → "6.00"). Null when an amount is not a number.
 */
export function dueOf(total: string, payments: readonly Pick<Payment, 'amount'>[]): string | null {
  let left: string | null = total
  for (const p of payments) left = left === null ? null : subtract(left, p.amount)
  return left
}

/** Whether a decimal string is more than zero. */
export function positive(decimal: string | null | undefined): boolean {
  return !!decimal && /[1-9]/.test(decimal) && !decimal.trim().startsWith('-')
}
