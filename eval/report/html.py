"""``report.html``: one self-contained page (inline CSS, inline SVG plots, a few lines of inline JS).

No CDN, no fonts, no network: it opens from a file, offline, in any browser.
Plots: failure-mode counts; top evidence/dense scores of answerable against
unanswerable questions; the rank of the gold chunk; per-mode precision and
recall. The per-query table filters by mode with a select box, or from the URL
(``report.html#mode=missing_content``; ``#mode=none`` = untagged rows).
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

from eval.report.markdown import METRIC_HELP, fmt, metric_rows

C_A, C_U, C_BAR, C_P, C_R = "#2b6cb0", "#dd6b20", "#4a5568", "#2f855a", "#b7791f"


def _e(s: Any) -> str:
    return escape("" if s is None else str(s), quote=True)


# ------------------------------------------------------------------ svg plots
def svg_hbar(title: str, items: list[tuple[str, float]], *, width: int = 580, color: str = C_BAR,
             value_fmt: str = "{:g}", plot_id: str = "") -> str:
    """Horizontal bar chart of ``(label, value)``."""
    row, left, top = 22, 180, 28
    h = top + row * max(len(items), 1) + 10
    vmax = max([v for _, v in items] + [1e-9])
    parts = [f'<svg class="plot" id="{_e(plot_id)}" role="img" aria-label="{_e(title)}" width="{width}" height="{h}" '
             f'viewBox="0 0 {width} {h}" xmlns="http://www.w3.org/2000/svg">',
             f'<text x="4" y="16" class="ptitle">{_e(title)}</text>']
    if not items:
        parts.append(f'<text x="{left}" y="{top + 14}" class="note">no data</text>')
    for i, (label, v) in enumerate(items):
        y = top + i * row
        w = (width - left - 60) * (v / vmax if vmax > 0 else 0)
        parts.append(f'<text x="{left - 6}" y="{y + 14}" text-anchor="end" class="lab">{_e(label)}</text>')
        parts.append(f'<rect class="bar" x="{left}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" fill="{color}">'
                     f'<title>{_e(label)}: {_e(value_fmt.format(v))}</title></rect>')
        parts.append(f'<text x="{left + w + 4:.1f}" y="{y + 14}" class="val">{_e(value_fmt.format(v))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def svg_grouped(title: str, labels: list[str], series: list[tuple[str, str, list[float | None]]], *,
                width: int = 560, height: int = 230, ymax: float | None = None, xlabel: str = "",
                plot_id: str = "", markers: list[tuple[float, str]] | None = None) -> str:
    """Vertical grouped bars: ``series`` = ``[(name, color, values per label)]``; None values are left out."""
    left, right, top, bottom = 44, 10, 40, 46
    pw, ph = width - left - right, height - top - bottom
    vals = [v for _, _, vs in series for v in vs if v is not None]
    ymax = ymax or max(vals + [1e-9])
    n, k = max(len(labels), 1), max(len(series), 1)
    gw = pw / n
    bw = min(max(1.0, gw * 0.8 / k), 40.0)
    p = [f'<svg class="plot" id="{_e(plot_id)}" role="img" aria-label="{_e(title)}" width="{width}" height="{height}" '
         f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
         f'<text x="4" y="16" class="ptitle">{_e(title)}</text>']
    for j, (name, color, _) in enumerate(series):  # legend
        p.append(f'<rect x="{left + j * 150}" y="23" width="10" height="10" fill="{color}"/>'
                 f'<text x="{left + 14 + j * 150}" y="32" class="lab">{_e(name)}</text>')
    for t in range(5):  # y grid
        yv = ymax * t / 4
        y = top + ph - ph * t / 4
        p.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                 f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" class="tick">{yv:.3g}</text>')
    for i, lab in enumerate(labels):
        x0 = left + i * gw + gw * 0.1
        for j, (name, color, vs) in enumerate(series):
            v = vs[i] if i < len(vs) else None
            if v is None:
                continue
            bh = ph * min(v / ymax, 1.0) if ymax > 0 else 0
            p.append(f'<rect class="bar" x="{x0 + j * bw:.1f}" y="{top + ph - bh:.1f}" width="{bw:.1f}" height="{bh:.1f}" '
                     f'fill="{color}"><title>{_e(name)} {_e(lab)}: {v:.3g}</title></rect>')
        if n <= 16 or i % max(1, n // 12) == 0:
            p.append(f'<text x="{left + i * gw + gw / 2:.1f}" y="{top + ph + 14}" text-anchor="middle" '
                     f'class="tick">{_e(lab)}</text>')
    for xv, lab in markers or []:  # vertical marker at a fractional label position
        x = left + xv * gw
        p.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + ph}" class="marker"/>'
                 f'<text x="{x + 3:.1f}" y="{top + 10}" class="tick">{_e(lab)}</text>')
    p.append(f'<line x1="{left}" x2="{width - right}" y1="{top + ph}" y2="{top + ph}" class="axis"/>')
    if xlabel:
        p.append(f'<text x="{left + pw / 2:.1f}" y="{height - 8}" text-anchor="middle" class="lab">{_e(xlabel)}</text>')
    p.append("</svg>")
    return "".join(p)


def _hist(values: list[float], lo: float, hi: float, bins: int) -> list[int]:
    out = [0] * bins
    for v in values:
        if v is None or math.isnan(v):
            continue
        i = int((v - lo) / (hi - lo) * bins) if hi > lo else 0
        out[min(max(i, 0), bins - 1)] += 1
    return out


def score_plot(queries: list[dict[str, Any]], key: str, title: str, plot_id: str, threshold: float | None = None) -> str:
    ans = [q["scores"][key] for q in queries if q.get("answerable") and (q.get("scores") or {}).get(key) is not None]
    una = [q["scores"][key] for q in queries if not q.get("answerable") and (q.get("scores") or {}).get(key) is not None]
    allv = ans + una + ([threshold] if threshold is not None else [])
    if not allv:
        return svg_hbar(title, [], plot_id=plot_id)
    lo, hi = min(allv), max(allv)
    if hi - lo < 1e-6:
        lo, hi = lo - 0.5, hi + 0.5
    bins = 20
    ha, hu = _hist(ans, lo, hi, bins), _hist(una, lo, hi, bins)
    # share of each group, so groups of different sizes compare
    sa = [c / len(ans) if ans else None for c in ha]
    su = [c / len(una) if una else None for c in hu]
    labels = [f"{lo + (hi - lo) * i / bins:.2f}" for i in range(bins)]
    marks = [((threshold - lo) / (hi - lo) * bins, f"threshold {threshold:.2f}")] if threshold is not None else None
    return svg_grouped(title, labels, [(f"answerable (n={len(ans)})", C_A, sa), (f"unanswerable (n={len(una)})", C_U, su)],
                       width=580, xlabel=f"{key} score (share of each group per bin)", plot_id=plot_id, markers=marks)


RANK_BINS = [("1", 1, 1), ("2", 2, 2), ("3", 3, 3), ("4-5", 4, 5), ("6-10", 6, 10), ("11-20", 11, 20),
             ("21-50", 21, 50), (">50", 51, 10**9)]


def rank_plot(queries: list[dict[str, Any]]) -> str:
    ranks = [(q.get("gold_ranks") or {}).get("final_chunk", (q.get("gold_ranks") or {}).get("fused"))
             for q in queries if q.get("gold_doc_ids") and not q.get("error")]
    counts = [sum(1 for r in ranks if r is not None and lo <= r <= hi) for _, lo, hi in RANK_BINS]
    counts.append(sum(1 for r in ranks if r is None))
    labels = [b[0] for b in RANK_BINS] + ["not found"]
    return svg_grouped(f"Rank of the best gold chunk in the final candidate order (n={len(ranks)})", labels,
                       [("questions", C_A, [float(c) for c in counts])], width=580,
                       xlabel="rank (reranked pool, then fused list)", plot_id="plot-gold-rank")


def pr_plot(pr: dict[str, dict[str, Any]]) -> str:
    if not pr:
        return ('<svg class="plot" id="plot-mode-pr" width="640" height="40" xmlns="http://www.w3.org/2000/svg">'
                '<text x="4" y="16" class="ptitle">Per-mode precision and recall</text>'
                '<text x="4" y="34" class="note">no question in this file has expected_modes</text></svg>')
    labels = list(pr)
    return svg_grouped("Per-mode precision and recall (against expected_modes)", labels,
                       [("precision", C_P, [pr[m].get("precision") for m in labels]),
                        ("recall", C_R, [pr[m].get("recall") for m in labels])],
                       width=max(580, 70 * len(labels)), ymax=1.0, plot_id="plot-mode-pr")


# ------------------------------------------------------------------ page
CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1a202c;max-width:1400px}
h1{font-size:22px;margin:0 0 8px}h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid #e2e8f0;padding-bottom:4px}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #e2e8f0;padding:3px 7px;vertical-align:top;text-align:left}
th{background:#f7fafc}td.num{text-align:right;font-variant-numeric:tabular-nums}
.plots{display:flex;flex-wrap:wrap;gap:14px}.plot{background:#fff;border:1px solid #e2e8f0;border-radius:4px}
.ptitle{font-weight:600;font-size:13px;fill:#1a202c}.lab{font-size:11px;fill:#2d3748}.val,.tick{font-size:10px;fill:#4a5568}
.note{font-size:12px;fill:#718096}.grid{stroke:#edf2f7}.axis{stroke:#a0aec0}.marker{stroke:#e53e3e;stroke-dasharray:4 3}
.mode{display:inline-block;background:#edf2f7;border-radius:3px;padding:0 5px;margin:1px;font-size:11px}
.bad{color:#c53030}.good{color:#2f855a}.abst{color:#b7791f;font-weight:600}.fail{background:#fff5f5}
details summary{cursor:pointer;color:#2b6cb0}#filterbar{margin:8px 0;padding:6px;background:#f7fafc;border:1px solid #e2e8f0}
.meta li{margin:2px 0}
"""

JS = """
(function(){
  function fromHash(){var m=/(?:^#|&)mode=([^&]*)/.exec(location.hash);return m?decodeURIComponent(m[1]):'all';}
  function apply(mode){
    var rows=document.querySelectorAll('#queries tbody tr'),n=0;
    for(var i=0;i<rows.length;i++){
      var r=rows[i],ms=(r.getAttribute('data-modes')||'').split(' ').filter(function(x){return x;});
      var show=(mode==='all')||(mode==='none'?ms.length===0:(mode==='failed'?r.getAttribute('data-failed')==='1':ms.indexOf(mode)>=0));
      r.hidden=!show; if(show){n++;}
    }
    document.getElementById('visible-count').textContent=String(n);
    document.body.setAttribute('data-filter',mode);
    var sel=document.getElementById('mode-filter'); if(sel.value!==mode){sel.value=mode;}
  }
  document.getElementById('mode-filter').addEventListener('change',function(e){location.hash='mode='+encodeURIComponent(e.target.value);});
  window.addEventListener('hashchange',function(){apply(fromHash());});
  apply(fromHash());
})();
"""


def _metrics_table(agg: dict[str, Any]) -> str:
    rows = ["<table id='metrics'><thead><tr><th>metric</th><th>mean</th><th>n</th><th>undefined</th><th>what</th></tr></thead><tbody>"]
    for k, v in metric_rows(agg.get("metrics", {})):
        rows.append(f"<tr><td>{_e(k)}</td><td class='num'>{_e(fmt(v.get('mean')))}</td><td class='num'>{v.get('n', 0)}</td>"
                    f"<td class='num'>{v.get('n_nan', 0)}</td><td>{_e(METRIC_HELP.get(k, ''))}</td></tr>")
    ab = agg.get("abstention") or {}
    rows.append(f"<tr><td>correct_refusal_rate</td><td class='num'>{_e(fmt(ab.get('correct_refusal_rate')))}</td>"
                f"<td class='num'>{ab.get('n_unanswerable', 0)}</td><td class='num'>0</td><td>abstained among unanswerable</td></tr>")
    rows.append(f"<tr><td>false_refusal_rate</td><td class='num'>{_e(fmt(ab.get('false_refusal_rate')))}</td>"
                f"<td class='num'>{ab.get('n_answerable', 0)}</td><td class='num'>0</td><td>abstained among answerable (lower is better)</td></tr>")
    rows.append("</tbody></table>")
    return "".join(rows)


def _baseline(base: dict[str, Any] | None) -> str:
    if not base:
        return ""
    h = [f"<h2>Compared with {_e(base.get('baseline_dir'))}</h2>",
         f"<p>{base.get('common_questions', 0)} questions in both runs: <b class='bad'>{base.get('n_worse', 0)} worse</b>, "
         f"<b class='good'>{base.get('n_better', 0)} better</b>.</p>",
         "<table id='deltas'><thead><tr><th>metric</th><th>baseline</th><th>current</th><th>delta</th></tr></thead><tbody>"]
    for k, d in base.get("metric_deltas", {}).items():
        if d.get("baseline") is None and d.get("current") is None:
            continue
        delta = d.get("delta")
        cls = "" if not delta else ("bad" if (delta < 0) != (k == "false_refusal_rate") else "good")
        h.append(f"<tr><td>{_e(k)}</td><td class='num'>{_e(fmt(d.get('baseline')))}</td><td class='num'>{_e(fmt(d.get('current')))}</td>"
                 f"<td class='num {cls}'>{'–' if delta is None else f'{delta:+.3f}'}</td></tr>")
    h.append("</tbody></table>")
    if base.get("worse"):
        h.append("<h3>Queries that got worse</h3><table id='worse'><thead><tr><th>id</th><th>question</th><th>why</th>"
                 "<th>new tags</th></tr></thead><tbody>")
        for w in base["worse"][:300]:
            tags = "".join(f"<div><span class='mode'>{_e(t['mode'])}</span> {_e(t.get('evidence', ''))}</div>" for t in w.get("new_tags", []))
            h.append(f"<tr><td>{_e(w['id'])}</td><td>{_e(w['question'])}</td><td>{_e('; '.join(w['reasons']))}</td><td>{tags}</td></tr>")
        h.append("</tbody></table>")
    return "".join(h)


def _query_rows(queries: list[dict[str, Any]]) -> str:
    out = []
    for q in queries:
        m = q.get("metrics") or {}
        modes = q.get("predicted_modes") or []
        failed = m.get("correct") == 0.0 or bool(q.get("error"))
        ans = q.get("answer") or ""
        if len(ans) > 400:
            ans = ans[:399] + "…"
        tags = "".join(
            f"<li><span class='mode'>{_e(t.get('mode'))}</span> ({_e(t.get('source'))}{', refuted by gold' if t.get('refuted_by_gold') else ''}, {_e(fmt(t.get('confidence'), 2))}) "
            f"{_e(t.get('evidence', ''))}<br><i>fix:</i> {_e(t.get('suggestion', ''))}</li>" for t in q.get("tags") or [] if t.get("mode"))
        chips = "".join(f"<span class='mode'>{_e(x)}</span>" for x in modes)
        tag_cell = f"{chips}<details><summary>evidence</summary><ul>{tags}</ul></details>" if tags else chips
        gr = q.get("gold_ranks") or {}
        ranks = " ".join(f"{k[0]}:{v if v is not None else '–'}" for k, v in gr.items() if k in ("dense", "lexical", "fused", "reranked", "context"))
        verdict = {1.0: "<span class='good'>✓</span>", 0.0: "<span class='bad'>✗</span>"}.get(m.get("correct"), "–")
        ev = (q.get("scores") or {}).get("evidence")
        out.append(
            f"<tr data-modes='{_e(' '.join(modes))}' data-failed='{1 if failed else 0}' class='{'fail' if failed else ''}'>"
            f"<td>{_e(q['id'])}</td><td>{_e(q['question'])}</td>"
            f"<td>{'<span class=abst>abstained</span> ' if q.get('abstained') else ''}{_e(ans)}"
            f"{('<div class=bad>' + _e(q['error']) + '</div>') if q.get('error') else ''}</td>"
            f"<td class='num'>{verdict}</td><td class='num'>{_e(fmt(m.get('f1'), 2))}</td>"
            f"<td class='num'>{_e(fmt(gr.get('final')))}</td><td title='dense lexical fused reranked context'>{_e(ranks)}</td>"
            f"<td class='num'>{_e(fmt(ev, 2))}</td><td>{tag_cell}</td></tr>")
    return "".join(out)


def render_html(report: dict[str, Any]) -> str:
    run, agg, queries = report.get("run", {}), report.get("aggregates", {}), report.get("queries") or []
    modes = agg.get("modes") or {}
    counts = modes.get("counts") or {}
    thr = next((q["scores"].get("threshold") for q in queries if (q.get("scores") or {}).get("threshold") is not None), None)
    present = sorted({m for q in queries for m in q.get("predicted_modes") or []})
    options = ["<option value='all'>all questions</option>", "<option value='failed'>failed (not correct)</option>",
               "<option value='none'>no tag</option>"] + [
        f"<option value='{_e(m)}'>{_e(m)} ({counts.get(m, 0)})</option>" for m in present]
    title = f"rag eval: {run.get('name') or run.get('collection') or 'run'}"
    sc, jd = run.get("scorer") or {}, run.get("judge") or {}
    gate = report.get("thresholds") or {}
    gate_html = ""
    if gate:
        if gate.get("failures"):
            gate_html = "<p class='bad'><b>Gate FAILED:</b> " + "; ".join(_e(f) for f in gate["failures"]) + "</p>"
        else:
            gate_html = "<p class='good'><b>Gate passed.</b></p>"
    plots = [
        svg_hbar("Failure-mode counts (questions tagged)", [(m, float(c)) for m, c in counts.items()], plot_id="plot-mode-counts"),
        score_plot(queries, "evidence", "Evidence score: answerable vs unanswerable", "plot-evidence", thr),
        score_plot(queries, "top_dense", "Top dense score: answerable vs unanswerable", "plot-dense"),
        rank_plot(queries),
        pr_plot(modes.get("precision_recall") or {}),
    ]
    walls = sum(s.get("wall_s") or 0 for s in run.get("sessions", []))
    meta = [
        f"<li>questions: <code>{_e(run.get('questions_file'))}</code>: {agg.get('n_questions', 0)} answered "
        f"({agg.get('n_answerable', 0)} answerable, {agg.get('n_unanswerable', 0)} unanswerable, "
        f"{agg.get('n_retrieval_only', 0)} retrieval-only, {agg.get('n_errors', 0)} errors)</li>",
        f"<li>collection: <code>{_e(run.get('collection'))}</code>"
        + (f" (throwaway, from <code>{_e(run.get('corpus_file'))}</code>)" if run.get("corpus_file") else "") + "</li>",
        f"<li>top_k {_e(run.get('top_k'))}, generator {_e((run.get('settings') or {}).get('generator'))}, "
        f"fingerprint <code>{_e(run.get('fingerprint'))}</code>; {walls:.1f} s answering in "
        f"{len(run.get('sessions', []))} session(s)</li>",
        f"<li>ragas: {'available' if sc.get('available') else 'unavailable'} {_e(sc.get('note') or '')}; "
        f"LLM judge: {_e(jd.get('note') or '')}</li>",
        f"<li>{modes.get('questions_with_tags', 0)} questions tagged; "
        f"{modes.get('correct_abstentions_tagged_missing_content', 0)} <code>missing_content</code> tags are correct abstentions</li>",
    ]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{_e(title)}</title><style>{CSS}</style></head>
<body>
<h1>{_e(title)}</h1>
<ul class="meta">{''.join(meta)}</ul>
{gate_html}
<h2>Metrics</h2>
<p>Means over the questions where each metric is defined; <b>n</b> says how many, <b>undefined</b> how many were left out (never averaged as zero).</p>
{_metrics_table(agg)}
<h2>Plots</h2>
<div class="plots">{''.join(plots)}</div>
{_baseline(report.get('baseline'))}
<h2>Queries</h2>
<div id="filterbar"><label for="mode-filter">Filter by failure mode: </label>
<select id="mode-filter">{''.join(options)}</select>
<span><b id="visible-count">{len(queries)}</b> of {len(queries)} questions shown</span></div>
<table id="queries"><thead><tr><th>id</th><th>question</th><th>answer</th><th>correct</th><th>F1</th><th>gold doc rank</th>
<th>gold chunk rank d/l/f/r/c</th><th>evidence</th><th>modes</th></tr></thead>
<tbody>{_query_rows(queries)}</tbody></table>
<script>{JS}</script>
</body></html>
"""
