#!/usr/bin/env python3
"""Retrieval quality of POST /api/search (keyword, vector, hybrid) on a real public corpus.

Corpora (--corpus), each a FAQ whose entries are a question heading and an answer body,
each taken from a Debian package that is fetched once with `apt-get download` and
unpacked with `dpkg-deb -x` into data/bench/ (gitignored), so reruns do not download:
  python-faq  the Python FAQ from `python3.11-doc` (Sphinx HTML pages under
              usr/share/doc/python3.11/html/faq/); the corpus the hybrid fusion was
              tuned on (the default);
  perl-faq    the Perl FAQ, perlfaq1 to perlfaq9, from `perl-doc` (POD files under
              usr/share/perl/VERSION/pod/): every =head2 is a question, the paragraphs
              up to the next heading its answer, rendered to plain text. A second,
              independent corpus to check the fusion on data it was not tuned on
              (Django's FAQ, the first candidate, has only 54 questions).

How it measures:
  1. starts `silo serve` on a fresh temporary data directory with the local MiniLM
     embedder, creates a company and a company admin, and logs in as that admin;
  2. uploads each answer (plain text, the question heading removed) as one .txt document
     with a neutral title such as `faq-programming-017` (FAQ page, then number), so
     nothing but the answer text can match; entries whose answer is shorter than
     --min-chars are skipped;
  3. waits until every document is processed (the ingestion time is upload to the last
     document completed: extraction, chunking, embedding, indexing);
  4. asks every question through POST /api/search in each mode with k = --k, one request
     at a time, after one warm-up request per mode. A question asked twice in the FAQ
     (in the Python FAQ, "What is Python?", in general and in installed) is one query
     with both answers.

Metrics per mode, over the questions: MRR@k is the mean of 1/rank of the first result
(a chunk) whose document is the question's answer, 0 when none is in the top k; R@1 and
R@k are the shares of questions whose answer document is first / in the top k. Latency
is the client-side time of each search request on 127.0.0.1 (mean, p50, p95).

--dump-lists FILE also writes, for every question, the ranked lists that hybrid mode fuses,
each --dump-depth long (default 40, the depth hybrid fuses at k = 10) with their scores
(keyword: -bm25, higher is better; vector: cosine similarity): keyword and vector for the
question as asked, keyword for the question without English stopwords (STOPWORDS; the
question as asked when nothing is left), and the server's hybrid top k. Each entry also
carries the answer document(s) and the FAQ page(s) the question comes from, so that
scripts/fusion_study.py can compare fusion rules offline and cross-validate them by page.

usage: scripts/bench_retrieval.py [--corpus python-faq|perl-faq] [--k 10] [--port 18093]
                                  [--json] [--keep]
                                  [--min-chars 100] [--per-question FILE]
                                  [--dump-lists FILE] [--dump-depth 40]
Uses $SILO_BIN when set, else `cargo build --release` and target/release/silo; the model
from $SILO_MODEL_DIR, else data/models/all-minilm-l6-v2 (fetched by scripts/fetch_model.sh).
"""
import argparse, glob, html.entities, html.parser, http.client, json, os, re, shutil, signal
import statistics, subprocess, sys, tempfile, textwrap, time, uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.path.join(ROOT, "data", "bench")
MODEL_FILES = ("config.json", "tokenizer.json", "model.safetensors")
MODES = ("keyword", "vector", "hybrid")
ADMIN, USER, PASSWORD = "root@bench.test", "reader@bench.test", "bench-password-1"
# NLTK's English stopword list without its apostrophe forms ("don't", "you're", ...): the
# search tokenizer cuts words at apostrophes, and the pieces ("don", "t", "re") are here.
STOPWORDS = frozenset("""
a about above after again against ain all am an and any are aren as at be because been
before being below between both but by can couldn d did didn do does doesn doing don down
during each few for from further had hadn has hasn have haven having he her here hers
herself him himself his how i if in into is isn it its itself just ll m ma me mightn more
most mustn my myself needn no nor not now o of off on once only or other our ours
ourselves out over own re s same shan she should shouldn so some such t than that the
their theirs them themselves then there these they this those through to too under until
up ve very was wasn we were weren what when where which while who whom why will with won
wouldn y you your yours yourself yourselves
""".split())


# ---------------------------------------------------------------------------- corpus

def fetch_corpus(package, faq_dir):
    """The unpacked FAQ directory (faq_dir, a glob inside the package) and the package
    version, downloading only once."""
    os.makedirs(CACHE, exist_ok=True)
    debs = sorted(glob.glob(os.path.join(CACHE, f"{package}_*.deb")))
    if not debs:
        if not shutil.which("apt-get"):
            sys.exit(f"apt-get is needed to download {package} (or put its .deb in {CACHE})")
        run = subprocess.run(["apt-get", "download", package], cwd=CACHE, capture_output=True, text=True)
        debs = sorted(glob.glob(os.path.join(CACHE, f"{package}_*.deb")))
        if not debs:
            sys.exit(f"apt-get download {package} failed (try `apt-get update` first):\n{run.stderr}")
    deb = debs[-1]
    version = os.path.basename(deb)[len(package) + 1:].rsplit("_", 1)[0]
    unpacked = os.path.join(CACHE, f"{package}_{version}")
    if not glob.glob(os.path.join(unpacked, faq_dir)):
        stage = tempfile.mkdtemp(dir=CACHE, prefix=".unpack-")
        subprocess.run(["dpkg-deb", "-x", deb, stage], check=True)
        shutil.rmtree(unpacked, ignore_errors=True)
        os.rename(stage, unpacked)
    found = sorted(glob.glob(os.path.join(unpacked, faq_dir)))
    if not found:
        sys.exit(f"{package} {version} has no {faq_dir}")
    return found[-1], version


class Sections(html.parser.HTMLParser):
    """Collects every <section> of a Sphinx page: its heading text, its own body text
    (nested sections excluded, header links dropped) and whether it has subsections."""

    BLOCKS = {"p", "pre", "li", "div", "dt", "dd", "tr", "br", "blockquote", "table"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.open, self.done, self.in_heading, self.links = [], [], 0, []

    def handle_starttag(self, tag, attrs):
        if tag == "section":
            if self.open:
                self.open[-1]["parent"] = True
            self.open.append({"id": dict(attrs).get("id"), "heading": "", "body": [],
                              "depth": len(self.open), "parent": False})
        elif not self.open:
            return
        elif tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self.in_heading += 1
        elif tag == "a":
            self.links.append("headerlink" in (dict(attrs).get("class") or ""))
        elif tag in self.BLOCKS:
            self.open[-1]["body"].append("\n")

    def handle_endtag(self, tag):
        if tag == "section":
            if self.open:
                self.done.append(self.open.pop())
        elif not self.open:
            return
        elif tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self.in_heading -= 1
        elif tag == "a":
            if self.links:
                self.links.pop()
        elif tag in self.BLOCKS:
            self.open[-1]["body"].append("\n")

    def handle_data(self, data):
        if not self.open or any(self.links):
            return
        if self.in_heading:
            self.open[-1]["heading"] += data
        else:
            self.open[-1]["body"].append(data)


def python_faq_entries(faq_dir, min_chars):
    """(name, question, answer) for every FAQ entry with an answer of min_chars or more,
    and the number of entries skipped as too short. An entry is a section without
    subsections below a page's top section (the others are pages and topic groups)."""
    entries, skipped = [], 0
    for path in sorted(glob.glob(os.path.join(faq_dir, "*.html"))):
        page = os.path.basename(path)[:-len(".html")]
        if page == "index":
            continue
        parser = Sections()
        with open(path, encoding="utf-8") as f:
            parser.feed(f.read())
        leaves = [s for s in parser.done if s["depth"] > 0 and not s["parent"]]
        number = 0
        for s in leaves:  # leaves close in document order

            question = " ".join(s["heading"].split())
            answer = re.sub(r"[ \t]+\n", "\n", "".join(s["body"]))
            answer = re.sub(r"\n{3,}", "\n\n", answer).strip()
            if len(answer) < min_chars:
                skipped += 1
                continue
            number += 1
            entries.append((f"faq-{page}-{number:03d}", question, answer + "\n"))
    return entries, skipped


# POD's named escapes (E<lt> ...) that are not HTML entity names.
POD_ESCAPES = {"lt": "<", "gt": ">", "verbar": "|", "sol": "/"}


def pod_link(text):
    """L<...> as perldoc shows it: the text of L<text|target>, a URL as is, "sec" in name."""
    if "|" in text:
        return text.split("|", 1)[0]
    if re.match(r"\w+:[^:\s]\S*$", text):
        return text
    if text.startswith('"'):  # L<"section">, the old form of L</"section">
        return text
    name, _, section = text.partition("/")
    section = section.strip('"')
    if section:
        return f'"{section}" in {name}' if name else f'"{section}"'
    return name


def pod_code(letter, text):
    """What formatting code `letter` shows of its (already rendered) content."""
    if letter in "XZ":
        return ""
    if letter == "E":
        if text in POD_ESCAPES:
            return POD_ESCAPES[text]
        for pattern, base in ((r"0[xX][0-9a-fA-F]+", 16), (r"0[0-7]+", 8), (r"\d+", 10)):
            if re.fullmatch(pattern, text):
                return chr(int(text, base))
        return chr(html.entities.name2codepoint[text]) if text in html.entities.name2codepoint else text
    if letter == "L":
        return pod_link(text)
    return text  # B, I, C, F, S: the content, plain


def pod_inline(text, i=0, brackets=0):
    """Renders POD formatting codes (C<x>, C<< x >>, nested ones) to plain text. With
    brackets > 0 it renders the inside of a code and returns it with the index after its
    closing brackets."""
    out = []
    while i < len(text):
        if brackets == 1 and text[i] == ">":
            return "".join(out), i + 1
        if brackets > 1:
            close = re.compile(r"\s+" + ">" * brackets).match(text, i)
            if close:
                return "".join(out), close.end()
        code = re.compile(r"([A-Z])(<+)").match(text, i)
        if code and (len(code.group(2)) == 1 or text[code.end():code.end() + 1].isspace()):
            n, start = len(code.group(2)), code.end()
            if n > 1:
                start = re.compile(r"\s*").match(text, start).end()
            inner, i = pod_inline(text, start, n)
            out.append(pod_code(code.group(1), inner))
            continue
        out.append(text[i])
        i += 1
    return "".join(out), i


def pod_sections(source):
    """(question, answer) for every =head2 of a POD page: the heading and the paragraphs up
    to the next =head1 or =head2, codes rendered, verbatim blocks dedented, list items
    kept with their bullet."""
    sections, current, skipping, bullet = [], None, False, ""
    for para in re.split(r"\n(?:[ \t]*\n)+", source):
        if not para.strip():
            continue
        if skipping:  # inside =begin FORMAT ... =end FORMAT
            skipping = not para.startswith("=end")
            continue
        if para.startswith("="):
            command, rest = re.match(r"(=\w+)\s*(.*)", para, re.S).groups()
            rest = " ".join(pod_inline(rest)[0].split())
            if command in ("=head1", "=head2"):
                if current:
                    sections.append(current)
                current = (rest, []) if command == "=head2" else None
            elif current is None:
                pass
            elif command in ("=head3", "=head4"):
                current[1].append(rest)
            elif command == "=item":
                if rest == "*" or re.fullmatch(r"\d+\.?", rest):
                    bullet = "* " if rest == "*" else rest.rstrip(".") + ". "
                else:
                    current[1].append(rest)
            elif command == "=begin":
                skipping = True
            continue  # =over, =back, =for, =pod, =cut, =encoding: nothing to show
        if current is None:
            continue
        if para[0] in " \t":
            text = textwrap.dedent("\n".join(line.rstrip() for line in para.split("\n")))
        else:
            text = " ".join(pod_inline(para)[0].split())
        current[1].append(bullet + text)
        bullet = ""
    if current:
        sections.append(current)
    return [(question, "\n\n".join(paras).strip()) for question, paras in sections]


def perl_faq_entries(pod_dir, min_chars):
    """(name, question, answer) for every question of perlfaq1 to perlfaq9 with an answer
    of min_chars or more, and the number of questions skipped as too short."""
    entries, skipped = [], 0
    for path in sorted(glob.glob(os.path.join(pod_dir, "perlfaq[1-9].pod"))):
        page = os.path.basename(path)[:-len(".pod")]
        with open(path, encoding="utf-8") as f:
            sections = pod_sections(f.read())
        number = 0
        for question, answer in sections:
            if len(answer) < min_chars:
                skipped += 1
                continue
            number += 1
            entries.append((f"faq-{page}-{number:03d}", question, answer + "\n"))
    return entries, skipped


# --corpus: the Debian package, the FAQ directory inside it (a glob), the entry reader.
CORPORA = {
    "python-faq": ("python3.11-doc", "usr/share/doc/python3.11/html/faq", python_faq_entries),
    "perl-faq": ("perl-doc", "usr/share/perl/*/pod", perl_faq_entries),
}


# ---------------------------------------------------------------------------- HTTP

class Api:
    """A keep-alive connection to the server (so latency is the request, not a TCP connect)."""

    def __init__(self, port):
        self.port, self.conn, self.token = port, None, None

    def request(self, method, path, body=None, headers=None):
        headers = dict(headers or {})
        if self.token:
            headers["authorization"] = "Bearer " + self.token
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                res = self.conn.getresponse()
                data = res.read()
                return res.status, (json.loads(data) if data else None)
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise

    def json(self, method, path, body=None, expect=(200, 201)):
        data = json.dumps(body).encode() if body is not None else None
        status, answer = self.request(method, path, data, {"content-type": "application/json"} if data else {})
        if status not in expect:
            sys.exit(f"{method} {path}: {status} {answer}")
        return answer

    def upload(self, filename, title, text):
        boundary = uuid.uuid4().hex
        parts = [(f'form-data; name="file"; filename="{filename}"', "text/plain; charset=utf-8", text),
                 ('form-data; name="title"', None, title), ('form-data; name="scope"', None, "company")]
        body = b""
        for disposition, ctype, value in parts:
            body += f"--{boundary}\r\ncontent-disposition: {disposition}\r\n".encode()
            body += (f"content-type: {ctype}\r\n" if ctype else "").encode() + b"\r\n"
            body += value.encode() + b"\r\n"
        body += f"--{boundary}--\r\n".encode()
        status, answer = self.request("POST", "/api/documents", body,
                                      {"content-type": f"multipart/form-data; boundary={boundary}"})
        if status != 202:
            sys.exit(f"upload {filename}: {status} {answer}")
        return answer["document"]["id"]


def silo_binary():
    if os.environ.get("SILO_BIN"):
        return os.environ["SILO_BIN"]
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    return os.path.join(ROOT, "target", "release", "silo")


def model_dir():
    if os.environ.get("SILO_MODEL_DIR"):
        return os.environ["SILO_MODEL_DIR"]
    path = os.path.join(ROOT, "data", "models", "all-minilm-l6-v2")
    if not all(os.path.isfile(os.path.join(path, f)) for f in MODEL_FILES):
        subprocess.run([os.path.join(ROOT, "scripts", "fetch_model.sh")], cwd=ROOT, check=True,
                       env={**os.environ, "SILO_DATA_DIR": os.path.join(ROOT, "data")})
    return path


def wait_until_processed(api, ids, log):
    """Polls the document list until no document is pending or processing; returns the
    statuses by id and the number of chunks."""
    wanted, statuses, chunks, logged = set(ids), {}, 0, 0.0
    while True:
        statuses, chunks, offset = {}, 0, 0
        while True:
            page = api.json("GET", f"/api/documents?limit=200&offset={offset}")
            for d in page["items"]:
                if d["id"] in wanted:
                    statuses[d["id"]] = (d["status"], d.get("error"))
                    chunks += d["num_chunks"]
            offset += len(page["items"])
            if not page["items"] or offset >= page["total"]:
                break
        done = sum(s in ("completed", "failed") for s, _ in statuses.values())
        if done == len(wanted):
            return statuses, chunks
        if time.monotonic() - logged >= 5:
            log(f"  processed {done}/{len(wanted)} documents")
            logged = time.monotonic()
        time.sleep(0.5)


def strip_stopwords(query):
    """The query's words (cut as the server's keyword search cuts them: at every character
    that is not a letter or digit) without STOPWORDS, or None when none is left."""
    words = [w for w in re.split(r"[^\w]|_", query) if w and w.lower() not in STOPWORDS]
    return " ".join(words) or None


def dump_lists(api, questions, names, pages, depth, k, path):
    """Writes the lists hybrid mode fuses, with scores, for every question (see --dump-lists)."""
    def ranked(query, mode, n):
        hits = api.json("POST", "/api/search", {"query": query, "k": n, "mode": mode})["results"]
        return [{"chunk": h["chunk_id"], "document": names[h["document_id"]], "score": h["score"]}
                for h in hits]

    out = []
    for question, answers in questions.items():
        stripped = strip_stopwords(question)
        docs = sorted(names[d] for d in answers)
        out.append({"question": question, "documents": docs,
                    "pages": sorted({pages[d] for d in docs}),
                    "keyword_query_stopped": stripped,
                    "keyword": ranked(question, "keyword", depth),
                    "keyword_stopped": ranked(stripped or question, "keyword", depth),
                    "vector": ranked(question, "vector", depth),
                    "hybrid": ranked(question, "hybrid", k)})
    meta = {"depth": depth, "k": k, "stopwords": sorted(STOPWORDS),
            "documents": len(names), "questions": len(out)}
    with open(path, "w") as f:
        json.dump({"meta": meta, "questions": out}, f, indent=1)


def start_company(binary, models, port, tmp, name):
    """Starts `silo serve` with the MiniLM embedder on a fresh data directory in `tmp`, waits
    until it answers, creates company `name` with a company admin, and returns the server,
    its log file and an Api logged in as that admin."""
    env = {**os.environ, "SILO_DATA_DIR": os.path.join(tmp, "data"), "SILO_MODEL_DIR": models,
           "SILO_EMBEDDER": "minilm", "SILO_LISTEN": f"127.0.0.1:{port}",
           "SILO_ADMIN_EMAIL": ADMIN, "SILO_ADMIN_PASSWORD": PASSWORD,
           "SILO_ACCESS_TOKEN_TTL": "86400", "RUST_LOG": os.environ.get("RUST_LOG", "warn")}
    server_log = open(os.path.join(tmp, "server.log"), "w")
    server = subprocess.Popen([binary, "serve"], env=env, stdout=server_log, stderr=subprocess.STDOUT)
    api = Api(port)
    try:
        for _ in range(300):
            if server.poll() is not None:
                sys.exit(f"silo serve exited with {server.returncode}; see {server_log.name}")
            try:
                if api.request("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                api.conn = None
            time.sleep(0.1)
        else:
            sys.exit(f"silo serve did not answer on port {port}")
        api.token = api.json("POST", "/api/auth/login", {"email": ADMIN, "password": PASSWORD})["access_token"]
        company = api.json("POST", "/api/admin/companies", {"name": name})
        api.json("POST", "/api/admin/users", {"email": USER, "password": PASSWORD, "role": "admin",
                                              "company_id": company["id"]})
        api.token = None
        api.token = api.json("POST", "/api/auth/login", {"email": USER, "password": PASSWORD})["access_token"]
    except BaseException:
        stop(server, server_log)
        raise
    return server, server_log, api


def stop(server, server_log):
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
    server_log.close()


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


# ---------------------------------------------------------------------------- benchmark

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", choices=list(CORPORA), default="python-faq",
                    help="the FAQ to search (default python-faq)")
    ap.add_argument("--k", type=int, default=10, help="results per search (default 10)")
    ap.add_argument("--port", type=int, default=18093)
    ap.add_argument("--min-chars", type=int, default=100, help="skip answers shorter than this")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    ap.add_argument("--keep", action="store_true", help="keep the server's data directory")
    ap.add_argument("--per-question", metavar="FILE", help="write each question's rank per mode as JSON")
    ap.add_argument("--dump-lists", metavar="FILE",
                    help="write every question's keyword and vector lists with scores as JSON")
    ap.add_argument("--dump-depth", type=int, default=40, help="length of the dumped lists (default 40)")
    args = ap.parse_args()
    if not 1 <= args.dump_depth <= 100:
        sys.exit("--dump-depth must be between 1 and 100")
    log = (lambda msg: print(msg, file=sys.stderr)) if args.json else print

    package, faq_glob, read_entries = CORPORA[args.corpus]
    faq_dir, version = fetch_corpus(package, faq_glob)
    entries, skipped = read_entries(faq_dir, args.min_chars)
    log(f"corpus: {package} {version}, {len(entries)} FAQ entries "
        f"({skipped} skipped with answers under {args.min_chars} characters)")
    binary, models = silo_binary(), model_dir()

    tmp = tempfile.mkdtemp(prefix="silo-bench-retrieval-")
    server, server_log, api = start_company(binary, models, args.port, tmp, "Retrieval Bench")
    try:
        t0 = time.monotonic()
        doc_ids = [api.upload(name + ".txt", name, answer) for name, _, answer in entries]
        statuses, chunks = wait_until_processed(api, doc_ids, log)
        ingest_s = time.monotonic() - t0
        failed = [(name, statuses[d][1]) for (name, _, _), d in zip(entries, doc_ids) if statuses[d][0] != "completed"]
        if failed:
            sys.exit(f"{len(failed)} documents failed: {failed[:5]}")
        log(f"ingested {len(doc_ids)} documents, {chunks} chunks, in {ingest_s:.1f} s")

        # A question asked twice in a FAQ ("What is Python?") is one query with both answers.
        questions = {}
        for (_, question, _), doc_id in zip(entries, doc_ids):
            questions.setdefault(question, set()).add(doc_id)
        results, ranks = {}, {}
        for mode in MODES:
            api.json("POST", "/api/search", {"query": entries[0][1], "k": args.k, "mode": mode})  # warm-up
            latencies, mode_ranks = [], []
            for question, answers in questions.items():
                t = time.perf_counter()
                hits = api.json("POST", "/api/search", {"query": question, "k": args.k, "mode": mode})["results"]
                latencies.append((time.perf_counter() - t) * 1000)
                rank = next((i + 1 for i, h in enumerate(hits) if h["document_id"] in answers), None)
                mode_ranks.append(rank)
            n = len(mode_ranks)
            results[mode] = {
                "mrr_at_k": round(sum(1 / r for r in mode_ranks if r) / n, 4),
                "recall_at_1": round(sum(r == 1 for r in mode_ranks) / n, 4),
                "recall_at_k": round(sum(r is not None for r in mode_ranks) / n, 4),
                "latency_ms": {"mean": round(statistics.fmean(latencies), 3),
                               "p50": round(percentile(latencies, 50), 3),
                               "p95": round(percentile(latencies, 95), 3)},
            }
            ranks[mode] = mode_ranks

        report = {"corpus": {"package": package, "version": version, "documents": len(doc_ids),
                             "questions": len(questions), "chunks": chunks, "skipped_short": skipped,
                             "min_chars": args.min_chars},
                  "embedder": "minilm", "k": args.k, "ingest_seconds": round(ingest_s, 2), "modes": results}
        if args.per_question:
            with open(args.per_question, "w") as f:
                names = dict(zip(doc_ids, (name for name, _, _ in entries)))
                json.dump([{"question": q, "documents": sorted(names[d] for d in answers),
                            **{m: ranks[m][i] for m in MODES}}
                           for i, (q, answers) in enumerate(questions.items())], f, indent=1)
        if args.dump_lists:
            names = dict(zip(doc_ids, (name for name, _, _ in entries)))
            pages = {name: name.split("-")[1] for name, _, _ in entries}
            dump_lists(api, questions, names, pages, args.dump_depth, args.k, args.dump_lists)
            log(f"lists of {len(questions)} questions written to {args.dump_lists}")
        if args.json:
            print(json.dumps(report, indent=2))
        else:
            k = args.k
            print(f"\n{len(questions)} questions over {len(doc_ids)} documents ({chunks} chunks), k = {k}, "
                  f"ingestion {ingest_s:.1f} s ({chunks / ingest_s:.0f} chunks/s)")
            print(f"{'mode':<9}{f'MRR@{k}':>8}{'R@1':>7}{f'R@{k}':>7}{'mean ms':>9}{'p50 ms':>8}{'p95 ms':>8}")
            for mode, r in results.items():
                lat = r["latency_ms"]
                print(f"{mode:<9}{r['mrr_at_k']:>8.3f}{r['recall_at_1']:>7.3f}{r['recall_at_k']:>7.3f}"
                      f"{lat['mean']:>9.1f}{lat['p50']:>8.1f}{lat['p95']:>8.1f}")
    finally:
        stop(server, server_log)
        if args.keep:
            log(f"data directory kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
