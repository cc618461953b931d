// String order for canonical forms and stable output: by UTF-16 code unit, as `<` compares. Not
// localeCompare: its first call loads ICU's collation data and code from the node binary, about 2.5 MiB
// of RSS for the rest of the process (measured at idle), and every call is slower; none of these orders
// is shown to people as alphabetical, they only need to be the same every time.
export function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
