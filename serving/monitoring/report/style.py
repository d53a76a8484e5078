"""The report's stylesheet: readable on screen, one column on A4 paper when printed."""

CSS = """
@page { size: A4; margin: 14mm 14mm 16mm 14mm; }
* { box-sizing: border-box; }
body { margin: 0; background: #f4f5f7; color: #1d2530;
       font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; }
main { max-width: 190mm; margin: 0 auto; padding: 18px 22px; background: #fff; }
h1 { font-size: 26px; margin: 4px 0 6px; color: #1f5f99; }
h2 { font-size: 19px; margin: 26px 0 8px; padding-bottom: 3px; border-bottom: 2px solid #1f5f99; }
p.lead { font-size: 16px; }
p.note { color: #555; font-size: 13px; }
p.warn { background: #fdecea; border-left: 4px solid #b3261e; padding: 8px 10px; }
p.ok { background: #e8f5e9; border-left: 4px solid #2e7d32; padding: 8px 10px; }
table { border-collapse: collapse; width: 100%; margin: 8px 0; font-size: 13px; }
th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid #dde1e6;
         vertical-align: top; }
th { background: #eef2f6; }
table.numbers td:not(:first-child), table.numbers th:not(:first-child) { text-align: right; }
table.contacts td:nth-child(5), table.contacts td:nth-child(6),
table.contacts.uplift td:nth-child(7) {
  text-align: right; white-space: nowrap; }
small { color: #555; }
figure.plot { margin: 10px 0 14px; }
figure.plot svg { width: 100%; height: auto; display: block; }
figcaption { font-size: 12px; color: #555; }
@media print {
  body { background: #fff; font-size: 11pt; }
  main { max-width: none; padding: 0; }
  h2 { break-after: avoid; }
  figure.plot, tr { break-inside: avoid; }
  section { break-inside: auto; }
  table { font-size: 9pt; }
  thead { display: table-header-group; }
}
"""
