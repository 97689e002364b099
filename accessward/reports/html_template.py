# ruff: noqa: E501  (an HTML page: its lines are as long as its markup)
"""The report page (jinja2). Everything inline: it opens from a USB stick with no network."""

PAGE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>
  :root { --ink:#111827; --muted:#6b7280; --line:#e5e7eb; --head:#1f2937; --bad:#b91c1c; --ok:#047857; }
  body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; color: var(--ink); margin: 2rem; font-size: 13px; }
  h1 { font-size: 1.6rem; margin: 0 0 .2rem; } h2 { font-size: 1.15rem; margin: 2rem 0 .5rem; }
  .meta { color: var(--muted); margin-bottom: 1rem; }
  .tiles { display: flex; flex-wrap: wrap; gap: .75rem; margin: 1rem 0; }
  .tile { border: 1px solid var(--line); border-radius: 6px; padding: .6rem .9rem; min-width: 9rem; }
  .tile .v { font-size: 1.4rem; font-weight: bold; } .tile .k { color: var(--muted); }
  .tile.bad .v { color: var(--bad); } .tile.ok .v { color: var(--ok); }
  .charts { display: flex; flex-wrap: wrap; gap: 1rem; }
  .chart { width: 31rem; max-width: 100%; border: 1px solid var(--line); border-radius: 6px; padding: .3rem; }
  .chart svg { width: 100%; height: auto; }
  table { border-collapse: collapse; width: 100%; margin-bottom: .5rem; }
  th, td { border: 1px solid var(--line); padding: 2px 5px; text-align: left; vertical-align: top;
           overflow-wrap: anywhere; }
  th { background: var(--head); color: #fff; cursor: pointer; }
  {% if not for_pdf %}th { position: sticky; top: 0; }
  .scroll { overflow-x: auto; max-height: 80vh; overflow-y: auto; border: 1px solid var(--line); }
  th, td { white-space: nowrap; max-width: 32rem; overflow: hidden; text-overflow: ellipsis; }{% endif %}
  th[aria-sort="ascending"]::after { content: " \25B2"; } th[aria-sort="descending"]::after { content: " \25BC"; }
  tr:nth-child(even) td { background: #f9fafb; }
  .filter { margin: .3rem 0; padding: .25rem .4rem; width: 20rem; }
  .note { color: var(--muted); font-style: italic; }
  .sev-critical { color: var(--bad); font-weight: bold; } .sev-high { color: #c2410c; font-weight: bold; }
  {% if for_pdf %}
  @page { size: A4 landscape; margin: 1cm; }
  body { margin: 0; font-size: 7.5px; } .filter { display: none; }
  .chart { width: 30%; } table { page-break-inside: auto; } tr { page-break-inside: avoid; }
  {% endif %}
</style>
</head>
<body>
<h1>{{ title }}</h1>
<div class="meta">As of {{ as_of }} UTC{% if period %} &middot; period {{ period }}{% endif %}
 &middot; filters: {{ filters }} &middot; Accessward {{ version }} &middot; generated {{ generated }} UTC</div>
{% for w in warnings %}<p class="note">warning: {{ w }}</p>{% endfor %}
<section class="tiles" id="tiles">
{% for k, v in tiles %}<div class="tile{% if k == 'Audit chain' %} {{ 'ok' if chain_ok else 'bad' }}{% endif %}"><div class="v">{{ v }}</div><div class="k">{{ k }}</div></div>
{% endfor %}</section>
<section class="charts" id="charts">
{% for name, svg in charts %}<figure class="chart" data-chart="{{ name }}">{{ svg | safe }}</figure>
{% endfor %}</section>
{% for t in tables %}
<h2 id="{{ t.name }}">{{ t.title }} <span class="note">({{ t.shown }}{% if t.total > t.shown %} of {{ t.total }}{% endif %} rows)</span></h2>
{% if t.total > t.shown %}<p class="note">Only the first {{ t.shown }} rows are shown here; the CSV and XLSX exports hold all {{ t.total }}.</p>{% endif %}
<input class="filter" type="search" placeholder="Filter {{ t.title | lower }}…" data-for="t-{{ t.name }}" aria-label="Filter {{ t.title }}">
<div class="scroll"><table id="t-{{ t.name }}" class="report" data-report="{{ t.name }}">
<thead><tr>{% for c in t.columns %}<th scope="col">{{ c }}</th>{% endfor %}</tr></thead>
<tbody>
{% for row in t.rows %}<tr>{% for c in t.columns %}<td{% if c == 'severity' %} class="sev-{{ row[c] }}" data-sort="{{ severity_rank.get(row[c], 9) }}"{% endif %} title="{{ row[c] }}">{{ row[c] }}</td>{% endfor %}</tr>
{% endfor %}</tbody>
</table></div>
{% endfor %}
{% if not for_pdf %}
<script>
(function () {
  "use strict";
  function key(text) { var n = parseFloat(text); return (text !== "" && !isNaN(n) && isFinite(text)) ? n : text.toLowerCase(); }
  document.querySelectorAll("table.report").forEach(function (table) {
    table.querySelectorAll("th").forEach(function (th, col) {
      th.addEventListener("click", function () {
        var asc = th.getAttribute("aria-sort") !== "ascending";
        table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", asc ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = key(a.cells[col].getAttribute("data-sort") || a.cells[col].textContent),
              y = key(b.cells[col].getAttribute("data-sort") || b.cells[col].textContent);
          if (typeof x !== typeof y) { x = String(x); y = String(y); }
          return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
  document.querySelectorAll("input.filter").forEach(function (input) {
    input.addEventListener("input", function () {
      var needle = input.value.toLowerCase();
      var table = document.getElementById(input.getAttribute("data-for"));
      Array.prototype.forEach.call(table.tBodies[0].rows, function (r) {
        r.style.display = r.textContent.toLowerCase().indexOf(needle) === -1 ? "none" : "";
      });
    });
  });
})();
</script>
{% endif %}
</body>
</html>
"""
