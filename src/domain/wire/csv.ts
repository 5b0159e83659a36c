/**
 * The one CSV writer for every CSV the gateway serves (the access report, the audit trail,
 * access changes). Values come from callers (event ids, actors, object ids), and a spreadsheet
 * runs a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return as a formula
 * (`=HYPERLINK(...)`, `+cmd|...`). Such a cell is neutralized by OWASP's rule: a leading `'`
 * makes it text, and the cell is quoted. Quoting follows RFC 4180 (`"` doubled).
 */

const FORMULA_START = /^[=+\-@\t\r]/
const NEEDS_QUOTES = /[",\n\r]/

/** one cell, neutralized and quoted as needed */
export function csvCell(value: string): string {
  const text = FORMULA_START.test(value) ? `'${value}` : value
  return NEEDS_QUOTES.test(text) || text !== value ? `"${text.replace(/"/g, '""')}"` : text
}

/** rows of cells as CSV text, `\n` between rows and after the last */
export function toCsv(rows: readonly (readonly string[])[]): string {
  return rows.map((row) => row.map(csvCell).join(',')).join('\n') + '\n'
}
