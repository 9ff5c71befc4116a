#!/usr/bin/env python3
"""corpus_seeds.py: seed files for fuzz_request or fuzz_response from the
hostile corpus (tests/corpus/requests.txt, responses.txt), one file a case.

usage: corpus_seeds.py requests|responses SRCDIR OUTDIR

The corpus is kept as escaped text for the integration test; its cases are
the edges a person thought of, good starting points for the fuzzer.  The
decoding is corpus.py's own, so both read the corpus the same way.
"""
import os
import sys

kind, srcdir, outdir = sys.argv[1:4]
sys.dont_write_bytecode = True     # the source tree may be read-only
sys.path.insert(0, os.path.join(srcdir, "tests", "integration"))
import corpus  # noqa: E402

ncols = {"requests": 4, "responses": 5}[kind]
path = os.path.join(srcdir, "tests", "corpus", kind + ".txt")
n = 0
for lineno, cols in corpus.load(path, ncols):
    with open(os.path.join(outdir, "corpus-%s-%d" % (kind, lineno)),
              "wb") as f:
        f.write(corpus.unescape(cols[-1]))
    n += 1
print("%d seeds from %s" % (n, path))
