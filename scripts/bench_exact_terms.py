#!/usr/bin/env python3
"""Exact-term retrieval of POST /api/search (keyword, vector, hybrid) at growing company sizes.

The companion of scripts/bench_retrieval.py (natural questions over a FAQ): here every
document is one short, near-duplicate paragraph about routine business (a paid invoice, a
failed job, a shipped order, a support call, a lab sample, in six phrasings) carrying one
unique term, the kind users search for verbatim:
  invoice  INV-2024-08817          error   ERR_CONN_RESET_4F2A (a code and a hex id)
  sku      SKU-48213-BX            person  Maria Kowalczyk (first and last names that
                                           each recur across many documents)
  word     a made-up word (brannoxite)
Queries, per term: the bare term ("term"), and a question around it in other words than
the document's ("question", e.g. "what happened with INV-2024-08817?"). A query is
answered when the document holding its term is in the top k.

How it measures:
  1. starts `silo serve` on a fresh temporary data directory with the local MiniLM
     embedder, creates a company and a company admin;
  2. grows the company to each size of --sizes in turn (uploads plain-text documents, one
     paragraph each, and waits until all are processed), and at each size asks --queries
     terms drawn evenly from all documents so far, each as a term and as a question, in
     each mode, one request at a time.

Reported per size, mode and query form: recall@1 and recall@k (k = --k), and the
client-side latency p50/p99 of the request (embedding the query with MiniLM included;
examples/bench_search.rs times the search alone).

usage: scripts/bench_exact_terms.py [--sizes 1000,10000,50000] [--queries 400] [--k 10]
                                    [--port 18094] [--json]
Uses $SILO_BIN when set, else `cargo build --release` and target/release/silo; the model
from $SILO_MODEL_DIR, else data/models/all-minilm-l6-v2 (fetched by scripts/fetch_model.sh).
"""

import argparse, json, os, shutil, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_retrieval import MODES, model_dir, percentile, silo_binary, start_company, stop

FIRST = ("Maria Anna John Peter Laura James Sofia Daniel Elena Thomas Olga Kenji Aisha Pedro "
         "Ingrid Tomasz Chloe Mateo Yuki Omar Hannah Lucas Fatima Ivan Grace Noah Leila Samuel "
         "Marta Henrik").split()
LAST = ("Kowalczyk Smith Garcia Nakamura Okafor Larsen Rossi Dubois Novak Schmidt Haddad Silva "
        "Jensen Moreau Petrov Tanaka Murphy Keller Costa Lindqvist Abara Horvat Fischer Bauer "
        "Mendes Quinn Varga Sato Nilsen Rahman Duarte Weber Lopez Ivanova Brennan Kaur Holm "
        "Vogel Santos Berg").split()
SYLLABLES = "bra no xi te lu ran vo ski mel da qu or fen tha zu pri ga lon ves ka".split()

KINDS = ("invoice", "error", "sku", "person", "word")

TEMPLATES = (
    "Invoice {t} was paid in full on the last day of the month; the receipt was filed with the accounts team.",
    "The nightly export job stopped with {t} and was restarted by the operator; no data was lost.",
    "Order {t} left the warehouse on Tuesday and the customer confirmed delivery two days later.",
    "{t} called support about a login problem; the ticket was closed after a password reset.",
    "Sample {t} was logged at the lab, stored at four degrees and tested within the week.",
    "Reference {t}: the quarterly maintenance of the cooling system was completed on schedule.",
)

QUESTIONS = {
    "invoice": "what happened with {t}?",
    "error": "why did the export fail with {t}",
    "sku": "where is the shipment of {t} now",
    "person": "did {t} get help from support?",
    "word": "what do we know about {t}",
}


def term(i):
    kind = KINDS[i % len(KINDS)]
    if kind == "invoice":
        return kind, f"INV-2024-{i:05d}"
    if kind == "error":
        return kind, f"ERR_CONN_RESET_{i:04X}"
    if kind == "sku":
        return kind, f"SKU-{10000 + (i * 7919) % 90000}-{chr(65 + i % 26)}{chr(65 + (i // 26) % 26)}"
    if kind == "person":
        # Unique pairs of recurring names (a middle name once the pairs run out).
        j, pairs = i // 5, len(FIRST) * len(LAST)
        middle = f" {FIRST[(j // pairs - 1) % len(FIRST)]}" if j >= pairs else ""
        return kind, f"{FIRST[j % len(FIRST)]}{middle} {LAST[(j // len(FIRST)) % len(LAST)]}"
    return kind, "".join(SYLLABLES[(i // 5 // 20 ** p) % 20] for p in range(4)) + "ite"


def text(i, t):
    return TEMPLATES[i % len(TEMPLATES)].format(t=t)


def wait_until_processed(api, total, log):
    logged = 0.0
    while True:
        counts = api.json("GET", "/api/documents?limit=1&status=completed")["total"]
        failed = api.json("GET", "/api/documents?limit=1&status=failed")["total"]
        if counts + failed >= total:
            if failed:
                sys.exit(f"{failed} documents failed")
            return
        if time.monotonic() - logged >= 10:
            log(f"  processed {counts}/{total} documents")
            logged = time.monotonic()
        time.sleep(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1000,10000,50000", help="company sizes in documents (one chunk each)")
    ap.add_argument("--queries", type=int, default=400, help="terms asked at each size (default 400)")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--port", type=int, default=18094)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    log = (lambda msg: print(msg, file=sys.stderr)) if args.json else print
    binary, models = silo_binary(), model_dir()

    tmp = tempfile.mkdtemp(prefix="silo-bench-exact-")
    server, server_log, api = start_company(binary, models, args.port, tmp, "Exact Terms Bench")
    report = []
    try:
        terms, doc_ids = [], []
        for size in sizes:
            t0, before = time.monotonic(), len(terms)
            for i in range(len(terms), size):
                kind, t = term(i)
                terms.append((kind, t))
                doc_ids.append(api.upload(f"note-{i:05d}.txt", f"note {i:05d}", text(i, t)))
            wait_until_processed(api, size, log)
            log(f"{size} documents ingested ({size - before} in {time.monotonic() - t0:.0f} s)")
            step = max(1, size // args.queries)
            asked = list(range(0, size, step))[: args.queries]
            for mode in MODES:
                for form in ("term", "question"):
                    ranks, latencies = [], []
                    for i in asked:
                        kind, t = terms[i]
                        query = t if form == "term" else QUESTIONS[kind].format(t=t)
                        start = time.perf_counter()
                        hits = api.json("POST", "/api/search", {"query": query, "k": args.k, "mode": mode})["results"]
                        latencies.append((time.perf_counter() - start) * 1000)
                        ranks.append(next((r + 1 for r, h in enumerate(hits) if h["document_id"] == doc_ids[i]), None))
                    n = len(ranks)
                    row = {"size": size, "mode": mode, "form": form, "queries": n,
                           "recall_at_1": round(sum(r == 1 for r in ranks) / n, 4),
                           "recall_at_k": round(sum(r is not None for r in ranks) / n, 4),
                           "p50_ms": round(percentile(latencies, 50), 2),
                           "p99_ms": round(percentile(latencies, 99), 2),
                           "missed_by_kind": {k: sum(1 for i, r in zip(asked, ranks) if r is None and terms[i][0] == k)
                                              for k in KINDS}}
                    report.append(row)
                    log(f"  {size:>6} {mode:<8} {form:<9} R@1 {row['recall_at_1']:.3f}  R@{args.k} "
                        f"{row['recall_at_k']:.3f}  p50 {row['p50_ms']:.1f} ms  p99 {row['p99_ms']:.1f} ms  "
                        f"missed {row['missed_by_kind']}")
        if args.json:
            print(json.dumps({"k": args.k, "embedder": "minilm", "rows": report}, indent=2))
        else:
            print(f"\n{'size':>6} {'mode':<8} {'query':<9}{'R@1':>7}{f'R@{args.k}':>7}{'p50 ms':>8}{'p99 ms':>8}")
            for r in report:
                print(f"{r['size']:>6} {r['mode']:<8} {r['form']:<9}{r['recall_at_1']:>7.3f}{r['recall_at_k']:>7.3f}"
                      f"{r['p50_ms']:>8.1f}{r['p99_ms']:>8.1f}")
    finally:
        stop(server, server_log)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
