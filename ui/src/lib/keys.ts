// Keyboard helpers shared by the screens.

/** For a row (or anything not a button) that opens something: Enter or Space does what a click does. */
export function activate(e: KeyboardEvent, action: () => void): void {
  if (e.key === 'Enter' || e.key === ' ') {
    e.preventDefault()
    action()
  }
}
