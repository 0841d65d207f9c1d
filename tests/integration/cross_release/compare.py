#!/usr/bin/python3
"""Compares compat's verdicts with the loader's, for cross_release.sh.

  compare.py classify RC OUTFILE
      print the loader's reason for one oracle run ("KIND NAME..."), as
      judged from its exit status and its output.
  compare.py report MANIFEST [MARKDOWN]
      read the manifest cross_release.sh wrote (one tab-separated line per
      file and pair of trees), print per pair the agreement of verdicts and
      of reasons, every disagreement, and one "ok"/"not ok" line per pair;
      with MARKDOWN, also write the results table and the disagreements there,
      and every row (all findings, the loader's whole message) to MARKDOWN.json.

Exit status 0 when it ran (whatever it found), anything else when it could
not: the calling script counts that as a failure.

The loader stops at its first failure, in this order: the kernel runs the
interpreter (wrong-arch, missing-interpreter), ld.so loads every object
(missing-soname), checks every version need (missing-version, all of them
reported at once), then binds every symbol (undefined-symbol, the first
one). compat reports every finding; its reason is the set of findings of
the earliest stage. They agree when the kinds are the same and every name
the loader gives (soname, versions, symbol) is among compat's findings of
that kind.
"""
import json
import re
import sys

STAGE = {
    "wrong-arch": 0,
    "missing-interpreter": 0,
    "missing-soname": 1,
    "isa-level": 1,
    "missing-version": 2,
    "undefined-symbol": 3,
}


def classify(rc, text):
    """The loader's verdict as (kind, [names]); kind "runs" when it loaded."""
    if "cannot be preloaded" in text:
        # the exit-0 object itself did not load: the run proves nothing
        return "oracle-error", [first_line(text)]
    if rc == 0:
        return "runs", []
    if rc == 124:
        return "oracle-error", ["timed out"]
    versions = re.findall(r"(?<!weak )version `([^']+)' not found \(required by", text)
    if versions:
        return "missing-version", sorted(set(versions))
    m = re.search(r"undefined symbol: ([^\s,]+)", text)
    if m:
        return "undefined-symbol", [m.group(1)]
    m = re.search(r"symbol ([^\s,]+) version \S+ not defined in file", text)
    if m:
        return "undefined-symbol", [m.group(1)]
    if "CPU ISA level is lower than required" in text:
        return "isa-level", []
    m = re.search(r"error while loading shared libraries: ([^:\s]+): ", text)
    if m:
        return "missing-soname", [m.group(1)]
    # launch's own messages when execve fails; the file itself is there
    if re.search(r"^launch: .*: Exec format error$", text, re.M):
        return "wrong-arch", []
    if re.search(r"^launch: .*: No such file or directory$", text, re.M):
        return "missing-interpreter", []
    return "other", [first_line(text) + " (exit %d)" % rc]


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError as e:
        return "(unreadable: %s)" % e


def compat_result(check_rc, json_path):
    """(compatible, findings, error) from check --json; error when unusable."""
    text = read(json_path)
    if check_rc not in (0, 1):
        return None, [], "check exited %d" % check_rc
    try:
        doc = json.loads(text)
    except ValueError as e:
        return None, [], "check --json printed no JSON (%s)" % e
    compatible = doc.get("compatible")
    findings = [f for f in doc.get("findings", []) if not f.get("warning")]
    if not isinstance(compatible, bool):
        return None, findings, 'no boolean "compatible" in the report'
    if compatible != (check_rc == 0):
        return None, findings, "exit %d disagrees with compatible=%s" % (check_rc, compatible)
    return compatible, findings, None


def first_line(text):
    lines = text.strip().splitlines()
    return lines[0] if lines else "(no message)"


def word_in(name, text):
    """NAME as a whole token of TEXT: GLIBC_2.3 is not in "GLIBC_2.3.4", stat not in "stat64"."""
    return re.search(r"(?<![A-Za-z0-9_.])" + re.escape(name) + r"(?![A-Za-z0-9_]|\.[0-9])", text) is not None


def reasons_agree(kind, names, findings):
    """Does compat's earliest-stage reason match the loader's?"""
    if not findings or kind not in STAGE:
        return False
    first = min(STAGE.get(f.get("kind"), 9) for f in findings)
    earliest = [f for f in findings if STAGE.get(f.get("kind"), 9) == first]
    same = [f for f in earliest if f.get("kind") == kind]
    if not same:
        return False
    for n in names:
        if kind == "missing-soname":
            hit = any(f.get("soname") == n for f in same)
        else:
            hit = any(word_in(n, f.get("detail", "")) for f in same)
        if not hit:
            return False
    return True


def show_findings(findings, limit=4):
    if not findings:
        return "compatible, no findings"
    parts = ["%s: %s" % (f.get("kind"), f.get("detail")) for f in findings[:limit]]
    if len(findings) > limit:
        parts.append("(+%d more)" % (len(findings) - limit))
    return "; ".join(parts)


def show_loader(kind, text):
    if kind == "runs":
        return "runs"
    lines = [l.strip() for l in text.strip().splitlines() if l.strip()]
    shown = " / ".join(lines[:2]) + (" (+%d lines)" % (len(lines) - 2) if len(lines) > 2 else "")
    return "%s: %s" % (kind, shown)


def report(manifest, markdown):
    pairs = {}  # (a, b) -> list of rows
    order = []
    with open(manifest) as f:
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if len(cols) != 12:
                raise SystemExit("manifest: bad line: %r" % line)
            (a, b, kind, name, path, gen_rc, gen_err, check_rc, check_json, check_err,
             oracle_rc, oracle_out) = cols
            if (a, b) not in pairs:
                pairs[(a, b)] = []
                order.append((a, b))
            loader_text = read(oracle_out)
            lkind, lnames = classify(int(oracle_rc), loader_text)
            if int(gen_rc) != 0:
                compatible, findings = None, []
                error = "gen exited %s: %s" % (gen_rc, first_line(read(gen_err)))
            else:
                compatible, findings, error = compat_result(int(check_rc), check_json)
                if error:
                    error += ": " + first_line(read(check_err))
            runs = lkind == "runs"
            verdict_ok = error is None and lkind != "oracle-error" and compatible == runs
            if not verdict_ok:
                reason_ok = False
            elif runs:
                reason_ok = True
            else:
                reason_ok = reasons_agree(lkind, lnames, findings)
            pairs[(a, b)].append({
                "kind": kind, "name": name, "path": path,
                "verdict_ok": verdict_ok, "reason_ok": reason_ok,
                "compat": error if error else show_findings(findings),
                "loader": show_loader(lkind, loader_text),
                "loader_kind": lkind,
                "loader_names": lnames,
                "loader_message": loader_text,
                "findings": findings,
                "error": error,
            })

    table = ["| generated on (A) | judged on (B) | files | loader: runs | verdicts agree | reasons agree |",
             "| --- | --- | ---: | ---: | ---: | ---: |"]
    details = []
    for a, b in order:
        rows = pairs[(a, b)]
        n = len(rows)
        nv = sum(r["verdict_ok"] for r in rows)
        nr = sum(r["reason_ok"] for r in rows)
        nruns = sum(r["loader_kind"] == "runs" for r in rows)
        print("# %s -> %s: %d files (%d run there); verdicts agree %d/%d, reasons agree %d/%d"
              % (a, b, n, nruns, nv, n, nr, n))
        table.append("| %s | %s | %d | %d | %d | %d |" % (a, b, n, nruns, nv, nr))
        bad = [r for r in rows if not r["reason_ok"]]
        for r in bad:
            what = "verdict" if not r["verdict_ok"] else "reason"
            line = "%s -> %s %s %s (%s), %s differs: compat: %s | loader: %s" % (
                a, b, r["kind"], r["name"], r["path"], what, r["compat"], r["loader"])
            print("#   " + line)
            details.append("- " + line.replace("|", "\\|"))
        status = "ok" if n and not bad else "not ok"
        print("%s - cross-release %s -> %s: compat and %s's loader agree on %d/%d files"
              % (status, a, b, b, n - len(bad), n))
    if markdown:
        with open(markdown, "w") as f:
            f.write("\n".join(table) + "\n\n")
            f.write("\n".join(details) + ("\n" if details else ""))
        with open(markdown + ".json", "w") as f:
            json.dump([{"a": a, "b": b, "files": pairs[(a, b)]} for a, b in order], f, indent=1)
    return 0


def main(argv):
    if len(argv) == 4 and argv[1] == "classify":
        kind, names = classify(int(argv[2]), read(argv[3]))
        print(" ".join([kind] + names))
        return 0
    if len(argv) in (3, 4) and argv[1] == "report":
        return report(argv[2], argv[3] if len(argv) == 4 else None)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
