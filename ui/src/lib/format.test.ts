// Unit tests of the UI's money arithmetic and formatting: `npm test` (scripts/test.sh runs it).
// Money is decimal text end to end; these pin that no float creeps in.

import assert from 'node:assert/strict'
import { test } from 'node:test'

import { dueOf, groupDigits, money, positive, subtract } from './format.ts'

test('subtract is exact decimal arithmetic on text', () => {
  assert.equal(subtract('20.00', '6.00'), '14.00')
  assert.equal(subtract('0.3', '0.1'), '0.2') // 0.19999999999999998 as floats
  assert.equal(subtract('6', '20.00'), '-14.00')
  assert.equal(subtract('0.1', '0.2'), '-0.1')
  // Past what a float holds exactly (2^53): still to the penny.
  assert.equal(subtract('99999999999999999999.99', '0.01'), '99999999999999999999.98')
  assert.equal(subtract('12.5', '0.125'), '12.375')
  assert.equal(subtract('abc', '1'), null)
  assert.equal(subtract('1', ''), null)
})

test('dueOf is the total less every payment, exactly', () => {
  assert.equal(dueOf('16.00', []), '16.00')
  assert.equal(dueOf('16.00', [{ amount: '10.00' }]), '6.00')
  assert.equal(dueOf('16.00', [{ amount: '10.00' }, { amount: '6.00' }]), '0.00')
  assert.equal(dueOf('0.30', [{ amount: '0.10' }, { amount: '0.10' }, { amount: '0.10' }]), '0.00')
  assert.equal(dueOf('9020500.00', [{ amount: '9020499.99' }]), '0.01')
  assert.equal(dueOf('16.00', [{ amount: 'ten' }]), null)
  assert.equal(positive(dueOf('16.00', [{ amount: '16.00' }])), false)
  assert.equal(positive(dueOf('16.00', [{ amount: '15.99' }])), true)
})

test('money shows every place the amount has, grouped, with the currency', () => {
  assert.equal(money('1234.5', 'GBP'), '£1,234.50')
  assert.equal(money('8', 'GBP'), '£8.00')
  assert.equal(money('9747747.934', 'GBP'), '£9,747,747.934')
  assert.equal(money('-5', 'GBP'), '−£5.00')
  assert.equal(money('1234.5', null), '1,234.50')
  assert.equal(money(null, 'GBP'), '—')
  assert.equal(money('', 'GBP'), '—')
})

test('positive and groupDigits read the text, not a float', () => {
  assert.equal(positive('0.00'), false)
  assert.equal(positive('0.01'), true)
  assert.equal(positive('-1.00'), false)
  assert.equal(positive(null), false)
  assert.equal(groupDigits('-1234567.5'), '-1,234,567.5')
  assert.equal(groupDigits('999'), '999')
})
