// The shapes the shell takes and returns are written from the Rust types into bindings.ts
// (ts-rs; a test fails when the file and the types disagree). This module re-exports them, with
// the screens' own names for a few.

export type * from './bindings'
import type { Geometry } from './bindings'

/** An exact amount as a decimal string (never a float). */
export type Money = string
/** A business day, `YYYY-MM-DD`. */
export type Day = string
/** Where a chart's plot area is across its image. */
export type ChartGeometry = Geometry
