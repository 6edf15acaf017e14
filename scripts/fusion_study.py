#!/usr/bin/env python3
"""Offline study of hybrid fusion rules on the lists dumped by bench_retrieval.py --dump-lists.

Every question of the dump carries the vector list (cosine similarity), the keyword list
(-bm25, higher is better) for the question as asked and the keyword list for the question
without stopwords, each up to the dump depth (40 by default, the depth hybrid mode fuses
at k = 10). This script re-ranks those candidates with several fusion rules and scores the
fused top k exactly as the benchmark does: the rank of the first chunk whose document is
an answer to the question, giving MRR@k, R@1 and R@k.

Fusion rules. Each turns a list into a per-chunk value and a floor (the value of a chunk
the list does not hold), and the fused score of every chunk in either list is
w_v * value_v + w_k * value_k; ties go to the chunk with the best single rank, then the
lower chunk UUID (the server's RRF breaks them the same way, with its internal chunk id).
  rrf      value = 1 / (c + rank), rank from 1; floor 0. Weights w:1 (vector:keyword).
  minmax   value = (s - min) / (max - min) over the list; floor 0 (the list's last entry).
           Convex weights alpha (vector) and 1 - alpha (keyword).
  zscore   value = (s - mean) / std over the list (population std); floor = the list's
           lowest value. Convex weights.
  rawcos   vector value = raw cosine, keyword value = s / max; floor = the list's last
           entry's value. Convex weights.
  tmm      "theoretical" min-max (Bruch et al. 2023): value = (s - m) / (max - m) with m the
           lowest score the function can give (-1 for cosine, 0 for -bm25); floor = the
           list's last entry's value. Convex weights.
A list whose scores are all equal (e.g. a single keyword match) gives its chunks 1 and
the floor 0 under minmax, zscore and the keyword side of rawcos.
Each rule is run with the keyword list of the question as asked (kw=raw) and of the
question without stopwords (kw=stop).

Cross-validation by FAQ page (a question asked on two pages belongs to the first):
  LOPO   leave one page out: the parameter with the best MRR on the other pages is scored
         on the left-out page; the held-out reciprocal ranks of all pages are pooled.
  2-fold every split of the pages into two groups of at least a third of the questions
         each: choose on one group, score on the other and vice versa, pool, and report
         the mean (min-max) held-out MRR over the splits.
The row "all" picks the rule, the keyword list and the parameter together on the training
pages. Differences to vector alone come with a paired bootstrap 95% interval (questions
resampled, --boot times, fixed seed) and the questions won / lost.

"fixed rules" scores the server's current rule and candidate defaults (FIXED) as they are.
--curves prints the in-sample parameter curves on a wider grid.
--depth-sweep D1,D2,... repeats the held-out comparison with every list cut to each depth
(the dump must be at least that deep; bench_retrieval.py --dump-depth 100 gives the most).

usage: scripts/fusion_study.py LISTS.json [--depth N] [--k 10] [--boot 10000] [--curves]
                               [--depth-sweep 10,20,40,100]
"""
import argparse, itertools, json, random, statistics, sys

RRF_C = (10, 30, 60)
RRF_W = (1.0, 1.5, 2.0, 3.0)
ALPHAS = tuple(round(0.30 + 0.05 * i, 2) for i in range(14))  # 0.30 .. 0.95
CONVEX = ("minmax", "zscore", "rawcos", "tmm")
WIDE_RRF_C = (1, 5, 10, 20, 30, 60, 100, 200)
WIDE_RRF_W = (1.0, 1.5, 2.0, 3.0, 4.0, 6.0)
WIDE_ALPHAS = tuple(round(0.05 * i, 2) for i in range(21))  # 0 .. 1


# ---------------------------------------------------------------------------- data

def load(path, depth):
    with open(path) as f:
        dump = json.load(f)
    depth = depth or dump["meta"]["depth"]
    if depth > dump["meta"]["depth"]:
        sys.exit(f"--depth {depth} is deeper than the dump ({dump['meta']['depth']})")
    queries = []
    for q in dump["questions"]:
        lists = {name: [(h["chunk"], h["score"]) for h in q[key][:depth]]
                 for name, key in (("v", "vector"), ("raw", "keyword"), ("stop", "keyword_stopped"))}
        doc = {h["chunk"]: h["document"] for key in ("vector", "keyword", "keyword_stopped") for h in q[key]}
        relevant = {c for c, d in doc.items() if d in q["documents"]}
        queries.append({"question": q["question"], "page": q["pages"][0], "lists": lists,
                        "relevant": relevant, "server_hybrid": [h["chunk"] for h in q["hybrid"]]})
    return dump["meta"], depth, queries


# ---------------------------------------------------------------------------- fusion

def values(kind, side, lst, param=None):
    """The per-chunk values of one list under a rule, and the value of an absent chunk."""
    if not lst:
        return {}, 0.0
    scores = [s for _, s in lst]
    if kind == "rrf":
        return {c: 1.0 / (param + r) for r, (c, _) in enumerate(lst, 1)}, 0.0
    lo, hi = min(scores), max(scores)
    if kind == "rawcos" and side == "v":
        return dict(lst), lo
    if hi == lo and kind != "tmm":
        return {c: 1.0 for c, _ in lst}, 0.0
    if kind == "minmax":
        return {c: (s - lo) / (hi - lo) for c, s in lst}, 0.0
    if kind == "zscore":
        mean, std = statistics.fmean(scores), statistics.pstdev(scores)
        return {c: (s - mean) / std for c, s in lst}, (lo - mean) / std
    if kind == "rawcos":  # keyword side
        return {c: s / hi for c, s in lst}, lo / hi
    if kind == "tmm":
        m = -1.0 if side == "v" else 0.0
        return {c: (s - m) / (hi - m) for c, s in lst}, (lo - m) / (hi - m)
    raise ValueError(kind)


def fuse(q, kind, kw, param, weights):
    """Chunk ids best first. `param` is the RRF constant (rrf only); `weights` = (w_v, w_k)."""
    lists = (("v", q["lists"]["v"]), ("k", q["lists"][kw]))
    parts, best_rank = [], {}
    for side, lst in lists:
        parts.append(values(kind, side, lst, param))
        for r, (c, _) in enumerate(lst):
            best_rank[c] = min(best_rank.get(c, r), r)
    fused = {c: sum(w * (vals.get(c, floor)) for w, (vals, floor) in zip(weights, parts))
             for c in best_rank}
    return sorted(fused, key=lambda c: (-fused[c], best_rank[c], c))


def single(q, name):
    return [c for c, _ in q["lists"][name]]


def rr(ranking, relevant, k):
    """1/rank of the first relevant chunk in the top k, 0 when none."""
    return next((1.0 / i for i, c in enumerate(ranking[:k], 1) if c in relevant), 0.0)


# ---------------------------------------------------------------------------- methods

def methods(wide=False):
    """(family, kw, param label, ranking function) for every configuration."""
    out = []
    cs, ws, alphas = (WIDE_RRF_C, WIDE_RRF_W, WIDE_ALPHAS) if wide else (RRF_C, RRF_W, ALPHAS)
    for kw in ("raw", "stop"):
        for c in cs:
            for w in ws:
                out.append(("rrf", kw, f"c={c} w={w:g}:1",
                            lambda q, c=c, w=w, kw=kw: fuse(q, "rrf", kw, c, (w, 1.0))))
        for kind in CONVEX:
            for a in alphas:
                out.append((kind, kw, f"alpha={a:.2f}",
                            lambda q, a=a, kind=kind, kw=kw: fuse(q, kind, kw, None, (a, 1.0 - a))))
    return out


def metrics(rrs):
    n = len(rrs)
    return {"mrr": sum(rrs) / n, "r1": sum(r == 1.0 for r in rrs) / n, "rk": sum(r > 0 for r in rrs) / n}


# ---------------------------------------------------------------------------- cross-validation

def choose(table, configs, train):
    """The config with the best MRR on the `train` question indices (first in grid order on ties)."""
    return max(configs, key=lambda cfg: (sum(table[cfg][i] for i in train), -configs.index(cfg)))


def lopo(table, configs, pages):
    held, chosen = [0.0] * len(pages), {}
    for p in sorted(set(pages)):
        train = [i for i, x in enumerate(pages) if x != p]
        cfg = choose(table, configs, train)
        chosen[p] = cfg
        for i, x in enumerate(pages):
            if x == p:
                held[i] = table[cfg][i]
    return held, chosen


def two_fold_splits(pages):
    names = sorted(set(pages))
    count = {p: pages.count(p) for p in names}
    first, rest = names[0], names[1:]
    splits = []
    for r in range(len(rest) + 1):
        for combo in itertools.combinations(rest, r):
            a = {first, *combo}
            na = sum(count[p] for p in a)
            if min(na, len(pages) - na) * 3 >= len(pages):
                splits.append(a)
    return splits


def two_fold(table, configs, pages, splits):
    """Mean, min and max held-out MRR over the splits, and the held-out RRs of each split."""
    mrrs, all_held = [], []
    for a in splits:
        ia = [i for i, p in enumerate(pages) if p in a]
        ib = [i for i, p in enumerate(pages) if p not in a]
        held = [0.0] * len(pages)
        for train, test in ((ia, ib), (ib, ia)):
            cfg = choose(table, configs, train)
            for i in test:
                held[i] = table[cfg][i]
        mrrs.append(sum(held) / len(held))
        all_held.append(held)
    return statistics.fmean(mrrs), min(mrrs), max(mrrs), all_held


def bootstrap(a, b, times, seed=1):
    """95% interval of mean(a) - mean(b), questions resampled in pairs."""
    if not times:
        return float("nan"), float("nan")
    rng, n = random.Random(seed), len(a)
    d = [x - y for x, y in zip(a, b)]
    means = sorted(sum(d[rng.randrange(n)] for _ in range(n)) / n for _ in range(times))
    return means[int(0.025 * times)], means[int(0.975 * times) - 1]


# ---------------------------------------------------------------------------- report

FIXED = [("rrf", "raw", "c=60 w=1:1"), ("minmax", "raw", "alpha=0.70"), ("minmax", "raw", "alpha=0.75"),
         ("minmax", "raw", "alpha=0.80"), ("minmax", "raw", "alpha=0.85"), ("minmax", "raw", "alpha=0.90"),
         ("minmax", "stop", "alpha=0.80"), ("zscore", "raw", "alpha=0.80"), ("rawcos", "raw", "alpha=0.85"),
         ("tmm", "raw", "alpha=0.90")]
FAMILIES = [(f, kw) for f in ("rrf",) + CONVEX for kw in ("raw", "stop")]


def rank_of(ranking, relevant):
    return next((i for i, c in enumerate(ranking, 1) if c in relevant), None)


def score_all(qs, k, configs):
    return {(f, kw, l): [rr(fn(q), q["relevant"], k) for q in qs] for f, kw, l, fn in configs}


def held_out_rows(qs, k, boot):
    """Per rule and keyword list (and all together): the in-sample best, LOPO and 2-fold
    held-out numbers, and the comparison with vector alone."""
    n, pages = len(qs), [q["page"] for q in qs]
    vec = [rr(single(q, "v"), q["relevant"], k) for q in qs]
    configs = methods()
    table = score_all(qs, k, configs)
    keys = [(f, kw, l) for f, kw, l, _ in configs]
    splits = two_fold_splits(pages)
    rows = []
    for fam, kw in FAMILIES + [("all", "")]:
        sub = [c for c in keys if fam == "all" or (c[0] == fam and c[1] == kw)]
        name = (lambda c: c[2]) if fam != "all" else (lambda c: f"{c[0]}/{c[1]} {c[2]}")
        best = choose(table, sub, range(n))
        held, chosen = lopo(table, sub, pages)
        tmean, tmin, tmax, _ = two_fold(table, sub, pages, splits)
        rows.append({"rule": fam, "kw": kw, "best": name(best), "in": metrics(table[best]),
                     "lopo": metrics(held), "held": held, "two_fold": (tmean, tmin, tmax),
                     "ci": bootstrap(held, vec, boot), "won": sum(h > v for h, v in zip(held, vec)),
                     "lost": sum(h < v for h, v in zip(held, vec)),
                     "picks": sorted({name(c) for c in chosen.values()})})
    return vec, len(splits), rows


def print_rows(vec, k, rows, picks=True):
    vm = metrics(vec)
    print(f"{'rule':<8}{'kw':<6}{'best in sample':<17}{'MRR':>6}{'R@1':>6}{f'R@{k}':>6}"
          f"{'LOPO':>7}{'R@1':>6}{f'R@{k}':>6}{'2-fold [min, max]':>25}{'LOPO-vector [95% CI]':>29}"
          f"{'won/lost':>10}" + ("  LOPO choices" if picks else ""))
    print(f"{'vector':<14}{'':<17}{vm['mrr']:>6.3f}{vm['r1']:>6.3f}{vm['rk']:>6.3f}"
          f"{vm['mrr']:>7.3f}{vm['r1']:>6.3f}{vm['rk']:>6.3f}")
    for r in rows:
        t, ci = r["two_fold"], r["ci"]
        print(f"{r['rule']:<8}{r['kw']:<6}{r['best']:<17.17}{r['in']['mrr']:>6.3f}{r['in']['r1']:>6.3f}"
              f"{r['in']['rk']:>6.3f}{r['lopo']['mrr']:>7.3f}{r['lopo']['r1']:>6.3f}{r['lopo']['rk']:>6.3f}"
              f"{t[0]:>9.3f} [{t[1]:.3f}, {t[2]:.3f}]{r['lopo']['mrr'] - vm['mrr']:>+12.3f} "
              f"[{ci[0]:+.3f}, {ci[1]:+.3f}]{r['won']:>6}/{r['lost']:<3}"
              + (f"  {'; '.join(r['picks'])}" if picks else ""))
    if any(r["rule"] == "all" for r in rows):
        print(f"  ('all': best in sample {next(r['best'] for r in rows if r['rule'] == 'all')})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("lists", help="file written by bench_retrieval.py --dump-lists")
    ap.add_argument("--depth", type=int, help="cut every list to this depth (default: the dump's)")
    ap.add_argument("--k", type=int, default=10, help="cut-off of the fused ranking (default 10)")
    ap.add_argument("--boot", type=int, default=10000, help="bootstrap resamples (default 10000, 0 = none)")
    ap.add_argument("--curves", action="store_true", help="in-sample curves on a wider grid")
    ap.add_argument("--depth-sweep", metavar="D1,D2,...", help="held-out comparison at each of these depths")
    args = ap.parse_args()
    meta, depth, qs = load(args.lists, args.depth)
    k, n = args.k, len(qs)
    pages = [q["page"] for q in qs]
    page_names = sorted(set(pages), key=lambda p: (-pages.count(p), p))
    print(f"{n} questions, lists of depth {depth}, fused top {k}; pages: "
          + ", ".join(f"{p} {pages.count(p)}" for p in page_names))

    # The offline RRF must reproduce the server's hybrid mode, which fuses lists 4 k deep, up to
    # the order of exact ties (the server breaks them by internal chunk id, this script by UUID).
    if depth == meta["depth"] == 4 * meta["k"] == 4 * k:
        same = ties = 0
        for q in qs:
            mine, theirs = fuse(q, "rrf", "raw", 60, (1.0, 1.0))[:k], q["server_hybrid"][:k]
            rank = {name: {c: r for r, (c, _) in enumerate(q["lists"][name], 1)} for name in ("v", "raw")}
            score = lambda c: round(sum(1.0 / (60 + rank[x][c]) for x in rank if c in rank[x]), 12)
            same += mine == theirs
            ties += mine != theirs and [score(c) for c in mine] == [score(c) for c in theirs]
        server = sum(rr(q["server_hybrid"], q["relevant"], k) for q in qs) / n
        print(f"offline RRF c=60 1:1 (kw=raw) = server hybrid top {k} for {same}/{n} questions, "
              f"{ties} more differ only in the order of exactly tied chunks (server MRR@{k} {server:.3f})")

    print(f"\n{'single list':<24}{f'MRR@{k}':>8}{'R@1':>7}{f'R@{k}':>7}")
    for name, label in (("v", "vector"), ("raw", "keyword (as asked)"), ("stop", "keyword (stopwords out)")):
        m = metrics([rr(single(q, name), q["relevant"], k) for q in qs])
        print(f"{label:<24}{m['mrr']:>8.3f}{m['r1']:>7.3f}{m['rk']:>7.3f}")

    print(f"\nwhat keyword finds that vector does not (questions of {n}; ranks of the first answer chunk):")
    vrank = [rank_of(single(q, "v"), q["relevant"]) for q in qs]
    for name, label in (("raw", "as asked"), ("stop", "stopwords out")):
        kr_vr = list(zip((rank_of(single(q, name), q["relevant"]) for q in qs), vrank))
        print(f"  keyword {label}: in top {k} and vector not {sum(a is not None and a <= k and (b is None or b > k) for a, b in kr_vr)}"
              f" (the reverse {sum(b is not None and b <= k and (a is None or a > k) for a, b in kr_vr)});"
              f" first and vector not {sum(a == 1 and b != 1 for a, b in kr_vr)} (the reverse {sum(b == 1 and a != 1 for a, b in kr_vr)});"
              f" ranked higher {sum(a is not None and (b is None or a < b) for a, b in kr_vr)}"
              f" / lower {sum(b is not None and (a is None or b < a) for a, b in kr_vr)};"
              f" in its top {depth} and vector's top {depth} not {sum(a is not None and b is None for a, b in kr_vr)}")

    vec, nsplits, rows = held_out_rows(qs, k, args.boot)
    print(f"\nheld-out MRR@{k}: LOPO over {len(set(pages))} pages; 2-fold mean [min, max] over {nsplits} page "
          f"splits; LOPO minus vector with a paired bootstrap 95% interval; questions won/lost vs vector")
    print_rows(vec, k, rows)

    print(f"\nLOPO held-out MRR@{k} per page")
    print(f"  {'page':<12}{'n':>4}{'vector':>8}" + "".join(f"{r['rule'] + '/' + r['kw']:>13}" for r in rows[:-1]))
    for p in page_names:
        idx = [i for i, x in enumerate(pages) if x == p]
        print(f"  {p:<12}{len(idx):>4}{sum(vec[i] for i in idx) / len(idx):>8.3f}"
              + "".join(f"{sum(r['held'][i] for i in idx) / len(idx):>13.3f}" for r in rows[:-1]))

    wide = args.curves
    cs, ws, alphas = (WIDE_RRF_C, WIDE_RRF_W, WIDE_ALPHAS) if wide else (RRF_C, RRF_W, ALPHAS)
    ctab = score_all(qs, k, methods(wide))
    vm = sum(vec) / n
    print(f"\nparameter curves: MRR@{k} over all questions (in sample); vector alone {vm:.3f}")
    for kw in ("raw", "stop"):
        print(f"  rrf, kw={kw}: rows c, columns w (vector:keyword)")
        print(f"    {'c':>5}" + "".join(f"{f'{w:g}:1':>8}" for w in ws))
        for c in cs:
            print(f"    {c:>5}" + "".join(f"{sum(ctab[('rrf', kw, f'c={c} w={w:g}:1')]) / n:>8.3f}" for w in ws))
    print("  convex rules: rows alpha (vector weight)")
    cols = [(f, kw) for f in CONVEX for kw in ("raw", "stop")]
    print(f"    {'alpha':>6}" + "".join(f"{f'{f}/{kw}':>13}" for f, kw in cols))
    for a in alphas:
        print(f"    {a:>6.2f}" + "".join(f"{sum(ctab[(f, kw, f'alpha={a:.2f}')]) / n:>13.3f}" for f, kw in cols))
    # How much the curve moves from page to page: per-page MRR of each alpha, minmax/raw.
    print(f"  per page, minmax/raw, MRR@{k} by alpha (vector alone in the last column)")
    print(f"    {'page':<12}" + "".join(f"{a:>6.2f}" for a in ALPHAS) + f"{'vec':>7}")
    for p in page_names:
        idx = [i for i, x in enumerate(pages) if x == p]
        print(f"    {p:<12}" + "".join(f"{sum(ctab[('minmax', 'raw', f'alpha={a:.2f}')][i] for i in idx) / len(idx):>6.3f}"
                                       for a in ALPHAS) + f"{sum(vec[i] for i in idx) / len(idx):>7.3f}")

    # Fixed rules (no choice on the data): the server's current rule and candidate defaults.
    print(f"\nfixed rules over all questions (no parameter chosen here), vs vector alone")
    print(f"  {'rule':<30}{f'MRR@{k}':>8}{'R@1':>7}{f'R@{k}':>7}{'- vector [95% CI]':>27}{'won/lost':>10}")
    for fam, kw, label in FIXED:
        rrs = ctab.get((fam, kw, label)) or score_all(qs, k, [c for c in methods(True) if c[:3] == (fam, kw, label)])[(fam, kw, label)]
        m, ci = metrics(rrs), bootstrap(rrs, vec, args.boot)
        print(f"  {fam + '/' + kw + ' ' + label:<30}{m['mrr']:>8.3f}{m['r1']:>7.3f}{m['rk']:>7.3f}"
              f"{m['mrr'] - vm:>+10.3f} [{ci[0]:+.3f}, {ci[1]:+.3f}]{sum(a > b for a, b in zip(rrs, vec)):>6}/"
              f"{sum(a < b for a, b in zip(rrs, vec)):<3}")

    if args.depth_sweep:
        for d in (int(x) for x in args.depth_sweep.split(",")):
            _, _, dq = load(args.lists, d)
            dvec, _, drows = held_out_rows(dq, k, args.boot)
            print(f"\nlists cut to depth {d}")
            print_rows(dvec, k, drows, picks=False)


if __name__ == "__main__":
    main()
