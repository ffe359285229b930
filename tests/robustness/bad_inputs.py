#!/usr/bin/env python3
"""Robustness suite: bad inputs for every reader and every spec option.

Generates each case in a scratch folder, runs the real `leaves` binary, and
asserts either a clean refusal (exit 2, one line "leaves: error: ..." naming
the file or option, no LibTorch internals, no raw control bytes, nothing
written to --out) or a correct acceptance (exit 0).

Usage: bad_inputs.py LEAVES [SHARED_DATA] [--list] [--only SUBSTRING]
"""
import os
import shutil
import struct
import subprocess
import sys
import tempfile

LEAVES = os.path.abspath(sys.argv[1])
SHARED = sys.argv[2] if len(sys.argv) > 2 and not sys.argv[2].startswith("--") else None
ONLY = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None

CASES = []  # (name, files {rel: bytes}, args [..], expect "error"|"ok", needle or None)


def case(name, files, args, expect="error", needle=None):
    CASES.append((name, files, args, expect, needle))


# ---------------------------------------------------------------------------
# UCR (.tsv): a small valid set, then one defect at a time.
def ucr_rows(n=12, length=16, labels=("1", "2"), value=None):
    rows = []
    for i in range(n):
        vals = ["%.3f" % ((i * 7 + t * 3) % 11 / 10.0) for t in range(length)]
        rows.append("\t".join([labels[i % len(labels)]] + vals))
    return rows


def ucr_set(train_rows=None, test_rows=None, name="Toy"):
    train = "\n".join(train_rows if train_rows is not None else ucr_rows()) + "\n"
    test = "\n".join(test_rows if test_rows is not None else ucr_rows()) + "\n"
    return {f"{name}/{name}_TRAIN.tsv": train.encode(), f"{name}/{name}_TEST.tsv": test.encode()}


def ucr_case(name, train_rows=None, test_rows=None, expect="error", needle="Toy_TRAIN.tsv", extra=""):
    case("ucr." + name, ucr_set(train_rows, test_rows), ["prepare", "ucr:{d}/Toy" + extra], expect, needle)


def with_row(i, row, base=None):
    rows = list(base or ucr_rows())
    rows[i] = row
    return rows


ucr_case("valid", expect="ok")
ucr_case("crlf_line_ends", [r + "\r" for r in ucr_rows()], expect="ok")
ucr_case("labels_need_seven_digits", ucr_rows(labels=("1234567", "7654321")),
         ucr_rows(labels=("1234567", "7654321")), expect="ok")
ucr_case("labels_differ_in_the_eighth_digit", ucr_rows(labels=("1.0000001", "1.0000002")),
         ucr_rows(labels=("1.0000001", "1.0000002")), expect="ok")
ucr_case("negative_labels", ucr_rows(labels=("-1", "1")), ucr_rows(labels=("-1", "1")), expect="ok")
ucr_case("nan_interpolated", with_row(3, "1\t0.1\tNaN\t0.3" + "\t0.5" * 13), extra=",missing=interpolate",
         expect="ok")
ucr_case("empty_train", [""])
ucr_case("whitespace_train", ["   ", "\t"])
for tok in ["abc", "inf", "-inf", "1e39", "-1e39", "1e400", "NaN", "0.1.2", "--1", "1e", "", " ", "\x1b[31m",
            "\x00", "1,5", "9" * 400]:
    ucr_case("value_%r" % tok, with_row(2, "1\t0.1\t" + tok + "\t0.3" + "\t0.5" * 13))
# Unequal lengths are resampled by default (said on stderr); unequal=error refuses them.
ucr_case("ragged_row", with_row(4, "2\t0.1\t0.2"), extra=",unequal=error")
ucr_case("ragged_row_resampled", with_row(4, "2\t0.1\t0.2"), expect="ok")
ucr_case("ragged_row_padded", with_row(4, "2\t0.1\t0.2"), extra=",unequal=pad", expect="ok")
ucr_case("trailing_nan_is_padding", with_row(4, "2\t0.1\t0.2" + "\tNaN" * 14), expect="ok")
ucr_case("unequal_word", extra=",unequal=squash", needle="unequal")
ucr_case("length_negative", extra=",length=-4", needle="length")
ucr_case("label_only", with_row(4, "2"))
ucr_case("label_word", with_row(4, "two" + "\t0.5" * 16))
ucr_case("label_nan", with_row(4, "nan" + "\t0.5" * 16))
ucr_case("label_inf", with_row(4, "inf" + "\t0.5" * 16))
ucr_case("test_label_unseen", None, with_row(0, "3" + "\t0.5" * 16), needle="Toy_TEST.tsv")
ucr_case("test_other_length", None, [r + "\t0.5" for r in ucr_rows()], needle="Toy_TEST.tsv", extra=",unequal=error")
ucr_case("test_value_word", None, with_row(1, "1\tx" + "\t0.5" * 15), needle="Toy_TEST.tsv")
case("ucr.binary_garbage", {"Toy/Toy_TRAIN.tsv": bytes(range(256)) * 8, "Toy/Toy_TEST.tsv": b"1\t0.5\n"},
     ["prepare", "ucr:{d}/Toy"], "error", "Toy_TRAIN.tsv")
case("ucr.missing_test", {"Toy/Toy_TRAIN.tsv": ucr_set()["Toy/Toy_TRAIN.tsv"]}, ["prepare", "ucr:{d}/Toy"], "error",
     "Toy_TEST.tsv")
case("ucr.missing_train", {"Toy/Toy_TEST.tsv": ucr_set()["Toy/Toy_TEST.tsv"]}, ["prepare", "ucr:{d}/Toy"], "error",
     "Toy_TRAIN.tsv")
case("ucr.no_such_folder", {}, ["prepare", "ucr:{d}/Nothing"], "error", "Nothing")
case("ucr.path_is_a_file", {"Toy": b"1\t2\n"}, ["prepare", "ucr:{d}/Toy"], "error", "Toy")
ucr_case("bad_missing_option", extra=",missing=guess", needle="missing")

# ---------------------------------------------------------------------------
# UEA (.ts)
def ts(dims=2, length=8, n=12, labels=("a", "b"), header_extra="", rows=None, classes="a b"):
    head = (f"@problemName Toy\n@timeStamps false\n@univariate {'true' if dims == 1 else 'false'}\n"
            f"@dimensions {dims}\n@equalLength true\n@seriesLength {length}\n@classLabel true {classes}\n"
            + header_extra + "@data\n")
    if rows is None:
        rows = []
        for i in range(n):
            dim = ",".join("%.2f" % ((i + t) % 5 / 4) for t in range(length))
            rows.append(":".join([dim] * dims + [labels[i % len(labels)]]))
    return (head + "\n".join(rows) + "\n").encode()


def uea_case(name, train, test=None, expect="error", needle="Toy_TRAIN.ts"):
    case("uea." + name, {"Toy/Toy_TRAIN.ts": train, "Toy/Toy_TEST.ts": test if test is not None else ts()},
         ["prepare", "uea:{d}/Toy"], expect, needle)


def ts_rows(**kw):
    return ts(**kw).decode().split("@data\n")[1].strip().split("\n")


uea_case("valid", ts(), expect="ok")
uea_case("univariate", ts(dims=1), ts(dims=1), expect="ok")
uea_case("empty", b"")
uea_case("no_data_section", ts().split(b"@data")[0])
uea_case("no_class_label", ts().replace(b"@classLabel true a b", b"@classLabel false"))
uea_case("class_label_without_names", ts().replace(b"@classLabel true a b", b"@classLabel true"))
uea_case("undeclared_label", ts(rows=with_row(0, "0,0,0,0,0,0,0,0:0,0,0,0,0,0,0,0:z", ts_rows())))
uea_case("dimension_missing", ts(rows=with_row(0, "0,0,0,0,0,0,0,0:a", ts_rows())))
uea_case("dimension_extra", ts(rows=with_row(0, "0,0,0,0,0,0,0,0:0,0,0,0,0,0,0,0:0,0,0,0,0,0,0,0:a", ts_rows())))
uea_case("unequal_lengths", ts(rows=with_row(0, "0,0,0,0,0,0,0:0,0,0,0,0,0,0,0:a", ts_rows())))
for tok in ["x", "inf", "1e39", "-3e38e", "\x07"]:
    uea_case("value_%r" % tok, ts(rows=with_row(1, tok + ",0,0,0,0,0,0,0:0,0,0,0,0,0,0,0:a", ts_rows())))
uea_case("dimensions_zero", ts().replace(b"@dimensions 2", b"@dimensions 0"))
uea_case("dimensions_word", ts().replace(b"@dimensions 2", b"@dimensions two"))
uea_case("data_before_header", b"1,2,3:a\n" + ts())
uea_case("test_undeclared_label", ts(), ts(rows=with_row(0, "0,0,0,0,0,0,0,0:0,0,0,0,0,0,0,0:q", ts_rows())),
         needle="Toy_TEST.ts")
uea_case("test_other_dimensions", ts(), ts(dims=3), needle="Toy_TEST.ts")
uea_case("missing_value_without_option", ts(rows=with_row(1, "?,0,0,0,0,0,0,0:0,0,0,0,0,0,0,0:a", ts_rows())))
uea_case("cases_of_unequal_length", ts(rows=with_row(0, "0,0,0,0,0,0,0:0,0,0,0,0,0,0:a", ts_rows())), expect="ok")


# The archive's ARFF files (read when no .ts file is there).
def arff(rows=None, n=12, length=6, classes="{a,b}", relational=False):
    head = "% toy\n@relation Toy\n"
    if relational:
        head += "@attribute rel relational\n" + "".join("@attribute t%d numeric\n" % t for t in range(length))
        head += "@end rel\n"
    else:
        head += "".join("@attribute t%d numeric\n" % t for t in range(length))
    head += "@attribute target " + classes + "\n@data\n"
    if rows is None:
        rows = []
        for i in range(n):
            vals = ",".join("%.2f" % ((i + t) % 5 / 4) for t in range(length))
            rows.append(("'%s\\n%s'" % (vals, vals) if relational else vals) + "," + "ab"[i % 2])
    return (head + "\n".join(rows) + "\n").encode()


def arff_rows(**kw):
    return arff(**kw).decode().split("@data\n")[1].strip().split("\n")


def arff_case(name, train, test=None, expect="error", needle="Toy_TRAIN.arff"):
    case("arff." + name, {"Toy/Toy_TRAIN.arff": train, "Toy/Toy_TEST.arff": test if test is not None else arff()},
         ["prepare", "uea:{d}/Toy"], expect, needle)


arff_case("valid", arff(), expect="ok")
arff_case("valid_relational", arff(relational=True), arff(relational=True), expect="ok")
arff_case("padding_question_marks", arff(rows=with_row(0, "0.1,0.2,?,?,?,?,a", arff_rows())), expect="ok")
arff_case("empty", b"")
arff_case("no_data", arff().split(b"@data")[0])
arff_case("no_class", arff().replace(b"@attribute target {a,b}\n", b""))
arff_case("string_attribute", arff().replace(b"t0 numeric", b"t0 string"))
arff_case("unclosed_nominal", arff().replace(b"{a,b}", b"{a,b"))
arff_case("undeclared_label", arff(rows=with_row(0, "0,0,0,0,0,0,z", arff_rows())))
arff_case("too_many_values", arff(rows=with_row(0, "0,0,0,0,0,0,0,a", arff_rows())))
arff_case("value_word", arff(rows=with_row(0, "0,x,0,0,0,0,a", arff_rows())))
arff_case("interior_missing", arff(rows=with_row(0, "0,?,0,0,0,0,a", arff_rows())))
arff_case("relational_unquoted", arff(relational=True, rows=["0,1,2,a"]))
arff_case("relational_dims_unequal", arff(relational=True, rows=["'0,1,2\\n0,1',a"]))
arff_case("test_other_classes", arff(), arff(classes="{a,c}"), needle="Toy_TEST.arff")
case("arff.dimension_files_disagree",
     {"Toy/ToyDimension1_TRAIN.arff": arff(), "Toy/ToyDimension2_TRAIN.arff": arff(n=10),
      "Toy/ToyDimension1_TEST.arff": arff(), "Toy/ToyDimension2_TEST.arff": arff()},
     ["prepare", "uea:{d}/Toy"], "error", "ToyDimension2_TRAIN.arff")
case("arff.dimension_files_valid",
     {"Toy/ToyDimension1_TRAIN.arff": arff(), "Toy/ToyDimension2_TRAIN.arff": arff(),
      "Toy/ToyDimension1_TEST.arff": arff(), "Toy/ToyDimension2_TEST.arff": arff()},
     ["prepare", "uea:{d}/Toy"], "ok", None)

# ---------------------------------------------------------------------------
# arrays: CSV and NPY series and labels
def csv(rows):
    return ("\n".join(",".join(str(v) for v in r) for r in rows) + "\n").encode()


def good_x(n=20, length=12):
    return [[round((i * 3 + t) % 7 / 7, 3) for t in range(length)] for i in range(n)]


def good_y(n=20):
    return [[i % 2] for i in range(n)]


def npy(dtype, shape, payload, fortran=False, magic=b"\x93NUMPY", version=b"\x01\x00", header=None):
    if header is None:
        shape_text = "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
        header = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (dtype, "True" if fortran else "False",
                                                                        shape_text)
    h = header.encode()
    pad = 64 - (10 + len(h) + 1) % 64
    h = h + b" " * (pad % 64) + b"\n"
    return magic + version + struct.pack("<H", len(h)) + h + payload


def f4(values):
    return struct.pack("<%df" % len(values), *values)


def f8(values):
    return struct.pack("<%dd" % len(values), *values)


def i8(values):
    return struct.pack("<%dq" % len(values), *values)


def arrays_case(name, x, y, xname="x.csv", yname="y.csv", expect="error", needle=None, extra=""):
    case("arrays." + name, {xname: x, yname: y}, ["prepare", "arrays:x={d}/" + xname + ",y={d}/" + yname + extra],
         expect, needle if needle is not None else (xname if expect == "error" else None))


X = good_x()
Y = good_y()
XNPY = npy("<f4", (20, 12), f4([v for r in X for v in r]))
YNPY = npy("<i8", (20,), i8([r[0] for r in Y]))
arrays_case("csv_valid", csv(X), csv(Y), expect="ok")
arrays_case("npy_valid", XNPY, YNPY, "x.npy", "y.npy", expect="ok")
arrays_case("csv_header_of_names", b"t0,t1,t2,t3,t4,t5,t6,t7,t8,t9,t10,t11\n" + csv(X), b"label\n" + csv(Y),
            expect="ok")
arrays_case("csv_header_no_refuses_names", b"t0,t1,t2,t3,t4,t5,t6,t7,t8,t9,t10,t11\n" + csv(X), csv(Y),
            extra=",header=no")
arrays_case("csv_header_bogus", csv(X), csv(Y), extra=",header=maybe", needle="header")
arrays_case("csv_typo_in_first_row", csv([["0.1", "0.2", "O.3"] + X[0][3:]] + X[1:]), csv(Y))
arrays_case("csv_typo_in_first_label", csv(X), b"O\n" + csv(Y[1:]), needle="y.csv")
for name, v in [("inf", "inf"), ("1e39", "1e39"), ("neg_1e39", "-1e39"), ("nan", "nan"), ("word", "abc"),
                ("empty_cell", ""), ("control", "\x1b"), ("huge_digits", "9" * 500)]:
    arrays_case("csv_value_" + name, csv([X[0][:5] + [v] + X[0][6:]] + X[1:]) if name != "huge_digits" else
                csv(X[:5] + [[v] + X[5][1:]] + X[6:]), csv(Y))
arrays_case("csv_ragged", csv(X[:3] + [X[3][:5]] + X[4:]), csv(Y))
arrays_case("csv_empty_x", b"", csv(Y))
arrays_case("csv_only_header", b"a,b,c\n", csv(Y))
for name, lab in [("negative", "-1"), ("fraction", "1.5"), ("1e19", "1e19"), ("inf", "inf"), ("nan", "nan"),
                  ("1e9", "1000000000"), ("twenty", "20"), ("word", "cat")]:
    arrays_case("csv_label_" + name, csv(X), csv(Y[:7] + [[lab]] + Y[8:]), needle="y.csv")
arrays_case("csv_fewer_labels", csv(X), csv(Y[:-1]), needle="y.csv")
arrays_case("csv_more_labels", csv(X), csv(Y + [[0]]), needle="y.csv")
arrays_case("csv_empty_labels", csv(X), b"", needle="y.csv")
arrays_case("unknown_extension", csv(X), csv(Y), xname="x.bin")
case("arrays.x_missing", {"y.csv": csv(Y)}, ["prepare", "arrays:x={d}/x.csv,y={d}/y.csv"], "error", "x.csv")
case("arrays.no_y", {"x.csv": csv(X)}, ["prepare", "arrays:x={d}/x.csv"], "error", "y")
arrays_case("npy_bad_magic", npy("<f4", (20, 12), f4([0.5] * 240), magic=b"\x93NUMPZ"), YNPY, "x.npy", "y.npy")
arrays_case("npy_truncated_header", XNPY[:20], YNPY, "x.npy", "y.npy")
arrays_case("npy_header_runs_past_end", XNPY[:8] + struct.pack("<H", 60000) + XNPY[10:80], YNPY, "x.npy", "y.npy")
arrays_case("npy_truncated_data", XNPY[:-7], YNPY, "x.npy", "y.npy")
arrays_case("npy_trailing_bytes", XNPY + b"\0\0\0\0", YNPY, "x.npy", "y.npy")
arrays_case("npy_shape_promises_more", npy("<f4", (2000000, 12), f4([0.5] * 240)), YNPY, "x.npy", "y.npy")
arrays_case("npy_fortran", npy("<f4", (20, 12), f4([0.5] * 240), fortran=True), YNPY, "x.npy", "y.npy")
for dt in [">f4", "<c8", "|O", "<f2", "<U4"]:
    arrays_case("npy_dtype_" + dt, npy(dt, (20, 12), b"\0" * 960), YNPY, "x.npy", "y.npy")
arrays_case("npy_shape_negative", npy("<f4", (20, 12), b"", header="{'descr': '<f4', 'fortran_order': False, "
                                                                   "'shape': (-20, 12), }"), YNPY, "x.npy", "y.npy")
arrays_case("npy_shape_word", npy("<f4", (20, 12), b"", header="{'descr': '<f4', 'fortran_order': False, "
                                                               "'shape': (n, 12), }"), YNPY, "x.npy", "y.npy")
arrays_case("npy_four_dims", npy("<f4", (20, 1, 1, 12), f4([0.5] * 240)), YNPY, "x.npy", "y.npy")
arrays_case("npy_f8_beyond_float32", npy("<f8", (20, 12), f8([1e39] + [0.5] * 239)), YNPY, "x.npy", "y.npy")
arrays_case("npy_f4_nan", npy("<f4", (20, 12), f4([float("nan")] + [0.5] * 239)), YNPY, "x.npy", "y.npy")
arrays_case("npy_f4_inf", npy("<f4", (20, 12), f4([0.5] * 100 + [float("inf")] + [0.5] * 139)), YNPY, "x.npy",
            "y.npy")
for name, labels in [("f8_1e19", f8([1e19] + [r[0] for r in Y[1:]])), ("f8_inf", f8([float("inf")] + [0] * 19)),
                     ("f8_nan", f8([float("nan")] + [1] * 19)), ("f8_fraction", f8([0.5] + [1] * 19))]:
    arrays_case("npy_label_" + name, XNPY, npy("<f8", (20,), labels), "x.npy", "y.npy", needle="y.npy")
arrays_case("npy_label_i8_1e9", XNPY, npy("<i8", (20,), i8([10 ** 9] + [0] * 19)), "x.npy", "y.npy", needle="y.npy")
arrays_case("npy_label_i8_negative", XNPY, npy("<i8", (20,), i8([-3] + [0] * 19)), "x.npy", "y.npy", needle="y.npy")
arrays_case("npy_label_2d", XNPY, npy("<i8", (10, 2), i8([0, 1] * 10)), "x.npy", "y.npy", needle="y.npy")
arrays_case("npy_label_count", XNPY, npy("<i8", (19,), i8([0, 1] * 9 + [0])), "x.npy", "y.npy", needle="y.npy")
arrays_case("npy_label_one_class_per_series_ok", XNPY, npy("<i8", (20,), i8([i % 4 for i in range(20)])), "x.npy",
            "y.npy", expect="ok")
arrays_case("npy_empty_file", b"", YNPY, "x.npy", "y.npy")
arrays_case("npy_zero_series", npy("<f4", (0, 12), b""), npy("<i8", (0,), b""), "x.npy", "y.npy")

# ---------------------------------------------------------------------------
# WFDB through a PTB-XL folder (the real record 00001_lr, ten rows, folds 1-10).
PTB = os.path.join(SHARED, "formats", "ptb-xl") if SHARED else None
if PTB and os.path.isdir(PTB):
    HEA = open(os.path.join(PTB, "records100/00000/00001_lr.hea"), "rb").read()
    DAT = open(os.path.join(PTB, "records100/00000/00001_lr.dat"), "rb").read()
    SCP = open(os.path.join(PTB, "scp_statements.csv"), "rb").read()

    def ptb_files(hea=HEA, dat=DAT, db=None, extra=None):
        files = {"ptb/scp_statements.csv": SCP}
        rows = ["ecg_id,scp_codes,strat_fold,filename_lr"]
        for i in range(1, 11):
            rows.append(f"{i},\"{{'NORM': 100.0}}\",{i},records100/r{i}")
            files[f"ptb/records100/r{i}.hea"] = hea.replace(b"00001_lr", f"r{i}".encode()) if hea else hea
            if dat is not None:
                files[f"ptb/records100/r{i}.dat"] = dat
        files["ptb/ptbxl_database.csv"] = db if db is not None else ("\n".join(rows) + "\n").encode()
        files.update(extra or {})
        return files

    def ptb_case(name, expect="error", needle=".hea", **kw):
        case("wfdb." + name, ptb_files(**kw), ["prepare", "ptb-xl:{d}/ptb"], expect, needle)

    def hea_with(old, new, count=1):
        return HEA.replace(old, new, count)

    ptb_case("valid", expect="ok", needle=None)
    ptb_case("signals_4294967308", hea=hea_with(b"00001_lr 12 100", b"00001_lr 4294967308 100"))
    ptb_case("signals_zero", hea=hea_with(b"00001_lr 12 100", b"00001_lr 0 100").split(b"\n")[0] + b"\n")
    ptb_case("signals_negative", hea=hea_with(b"00001_lr 12 100", b"00001_lr -1 100"))
    ptb_case("signals_word", hea=hea_with(b"00001_lr 12 100", b"00001_lr twelve 100"))
    ptb_case("signals_fewer_lines", hea=b"\n".join(HEA.split(b"\n")[:-3]) + b"\n")
    ptb_case("signals_more_lines", hea=HEA + HEA.split(b"\n")[1] + b"\n")
    for rate in [b"inf", b"nan", b"0", b"-100", b"1e300", b"abc"]:
        ptb_case("rate_" + rate.decode(), hea=hea_with(b"00001_lr 12 100", b"00001_lr 12 " + rate))
    for gain in [b"nan", b"inf", b"1e-45", b"abc", b"-inf"]:
        ptb_case("gain_" + gain.decode(), hea=hea_with(b"1000.0(0)/mV", gain + b"(0)/mV"))
    ptb_case("baseline_unclosed", hea=hea_with(b"1000.0(0)/mV", b"1000.0(0/mV"))
    ptb_case("baseline_huge", hea=hea_with(b"1000.0(0)/mV", b"1000.0(99999999999)/mV"))
    for fmt in [b"999", b"16x2", b"16+4", b"abc"]:
        ptb_case("format_" + fmt.decode(), hea=hea_with(b".dat 16 1000.0", b".dat " + fmt + b" 1000.0", 12))
    for target in [b"../../../etc/passwd", b"/dev/zero", b"..", b".", b"sub/x.dat"]:
        ptb_case("signal_file_" + target.decode().replace("/", "_"),
                 hea=HEA.replace(b"00001_lr.dat", target))
    ptb_case("signal_file_is_a_folder", hea=HEA.replace(b"00001_lr.dat", b"adir"),
             extra={"ptb/records100/adir/x": b""})
    ptb_case("dat_missing", dat=None, needle=".dat")
    ptb_case("dat_empty", dat=b"", needle=".dat")
    ptb_case("dat_truncated", dat=DAT[:1000], needle=".dat")
    ptb_case("dat_flipped_checksum", dat=DAT[:100] + bytes([DAT[100] ^ 0xFF]) + DAT[101:], needle="r")
    for n in [b"abc", b"-5", b"1e16", b"1.5"]:
        ptb_case("nsamp_" + n.decode(), hea=hea_with(b"00001_lr 12 100 1000", b"00001_lr 12 100 " + n))
    ptb_case("nsamp_2000_more_than_file", hea=hea_with(b"00001_lr 12 100 1000", b"00001_lr 12 100 2000"),
             needle=".dat")
    ptb_case("adc_resolution_huge", hea=hea_with(b"/mV 16 0", b"/mV 99999999999 0"))
    ptb_case("empty_header", hea=b"")
    ptb_case("binary_header", hea=bytes(range(1, 256)))
    ptb_case("multi_segment", hea=hea_with(b"00001_lr 12", b"00001_lr/3 12"))
    ptb_case("database_missing_column", db=b"ecg_id,scp_codes,filename_lr\n1,\"{'NORM': 1}\",records100/r1\n",
             needle="ptbxl_database.csv")
    ptb_case("database_fold_11", db=b"ecg_id,scp_codes,strat_fold,filename_lr\n1,\"{'NORM': 1}\",11,records100/r1\n",
             needle="ptbxl_database.csv")
    ptb_case("database_codes_garbage", db=b"ecg_id,scp_codes,strat_fold,filename_lr\n1,\"NORM\",1,records100/r1\n",
             needle="scp_codes")
    ptb_case("database_record_missing",
             db=b"ecg_id,scp_codes,strat_fold,filename_lr\n1,\"{'NORM': 1}\",1,records100/nothing\n",
             needle="nothing")

# ---------------------------------------------------------------------------
# Data spec options (leaves prepare SPEC --out).
for spec, needle in [
    ("synthetic:size=abc", "size"), ("synthetic:size=-1", "size"), ("synthetic:size=0", "size"),
    ("synthetic:size=1e12", "size"), ("synthetic:size=1000000000000", "size"), ("synthetic:length=0", "length"),
    ("synthetic:length=-5", "length"), ("synthetic:length=1000000000000", "length"),
    ("synthetic:channels=0", "channels"), ("synthetic:channels=100000", "channels"), ("synthetic:rate=0", "rate"),
    ("synthetic:rate=inf", "rate"), ("synthetic:rate=nan", "rate"), ("synthetic:noise=-1", "noise"),
    ("synthetic:noise=inf", "noise"), ("synthetic:noise=nan", "noise"), ("synthetic:seed=abc", "seed"),
    ("synthetic:seed=-1", "seed"), ("synthetic:split_seed=x", "split_seed"), ("synthetic:bogus=1", "bogus"),
    ("synthetic:normalize=bogus", "normalize"), ("synthetic:resample=-1", "resample"),
    ("synthetic:resample=abc", "resample"), ("synthetic:resample=inf", "resample"),
    ("synthetic:select=V99", "V99"), ("synthetic:size", "size"), ("synthetic:=3", "synthetic"),
    ("synthetic:size=40,size=50", "size"), ("mnist", "mnist"), ("", "data"), ("ucr", "ucr"),
    ("ucr:path=", "ucr"), ("uea:{d}/none", "none"), ("apnea-ecg:{d}/none", "none"), ("sleep-edf:{d}/none", "none"),
    ("pamap2:{d}/none", "none"), ("ptb-xl:{d}/none", "none"), ("prepared:{d}/none", "none"),
    ("synthetic:size=\x1b[2J", "size"), ("synthetic:size=40,length=64,val=0", "val"),
    ("arrays:x={d}/x.csv,y={d}/y.csv,val=1.5", "val"),
]:
    case("spec." + (spec.replace("{d}/", "") or "empty")[:60], {}, ["prepare", spec], "error", needle)
case("spec.synthetic_valid", {}, ["prepare", "synthetic:size=40,length=64"], "ok")
case("spec.prepared_not_a_set", {"notset/readme.txt": b"hi"}, ["prepare", "prepared:{d}/notset"], "error",
     "notset")
case("spec.prepared_corrupt_json", {"bad/prepared.json": b"{not json"}, ["prepare", "prepared:{d}/bad"], "error",
     "prepared.json")

# ---------------------------------------------------------------------------
# Command-line options (each refused before any work, nothing written).
P = ["pretrain", "--min-steps", "0", "--data", "synthetic:size=40,length=64", "--epochs", "1", "--batch-size", "8", "--width", "4"]
for flag, value in [("--epochs", "0"), ("--epochs", "-1"), ("--epochs", "abc"), ("--epochs", "1e99"),
                    ("--batch-size", "1"), ("--batch-size", "0"), ("--batch-size", "64"), ("--lr", "nan"),
                    ("--lr", "-1"), ("--lr", "inf"), ("--generator-lr", "nan"), ("--tau", "0"), ("--tau", "-1"),
                    ("--tau", "nan"), ("--width", "0"), ("--width", "99999"), ("--device", "tpu"),
                    ("--device", "cuda:abc"), ("--knots", "1"), ("--knots", "-3"), ("--eta", "-1"), ("--eta", "nan"),
                    ("--mixture-components", "0"), ("--max-segments", "0"), ("--interpolation", "quadratic"),
                    ("--method", "byol"), ("--precision", "fp16"), ("--seed", "-1"), ("--seed", "abc"),
                    ("--checkpoint-every", "-1"), ("--projection-hidden", "-1"), ("--bucket-mb", "0"),
                    ("--dist-timeout", "0"), ("--sigma", "-1"), ("--sigma", "nan"), ("--budget", "-1"),
                    ("--perm-estimator", "gumbel"), ("--layout", "nhwc"), ("--cpu-conv", "fast")]:
    case("flag.pretrain" + flag + "=" + value, {}, P + [flag, value, "--out", "{d}/run"], "error", flag)
case("flag.pretrain_unknown", {}, P + ["--frobnicate", "--out", "{d}/run"], "error", "--frobnicate")
case("flag.typo_command", {}, ["pretrian", "--epochs", "1"], "error", "unknown command 'pretrian' (did you mean 'pretrain'?)")
case("flag.no_such_command", {}, ["zzzzzzzzzz"], "error", "unknown command 'zzzzzzzzzz'; the commands")
case("flag.pretrain_resume_missing", {}, ["pretrain", "--resume", "{d}/none"], "error", "none")
case("flag.pretrain_resume_not_a_run", {"r/x": b""}, ["pretrain", "--resume", "{d}/r"], "error", "r")
case("flag.pretrain_out_is_a_file", {"f": b"x"}, P + ["--out", "{d}/f"], "error", "f")
case("flag.pretrain_out_not_empty", {"o/notes.txt": b"mine"}, P + ["--out", "{d}/o"], "error", "o")
case("flag.supervised_out_not_empty", {"o/notes.txt": b"mine"},
     ["supervised", "--data", "synthetic:size=40,length=64", "--epochs", "1", "--out", "{d}/o"], "error", "o")
case("flag.experiment_out_not_empty", {"o/notes.txt": b"mine"},
     ["experiment", "--data", "synthetic:size=40,length=64", "--epochs", "1", "--out", "{d}/o"], "error", "o")
case("flag.prepare_out_not_a_set", {"o/notes.txt": b"mine"}, ["prepare", "synthetic:size=40", "--out", "{d}/o"],
     "error", "o")
case("flag.prepare_out_inside_root", ucr_set(), ["prepare", "ucr", "--root", "{d}/Toy", "--out", "{d}/Toy/prep"],
     "error", "raw data")
case("flag.prepare_out_is_root", ucr_set(), ["prepare", "ucr", "--root", "{d}/Toy", "--out", "{d}/Toy"], "error",
     "raw data")
case("flag.prepare_out_holds_x", {"o/x.csv": csv(good_x()), "o/y.csv": csv(good_y()), "o/prepared.json": b"{}"},
     ["prepare", "csv", "--x", "{d}/o/x.csv", "--y", "{d}/o/y.csv", "--out", "{d}/o"], "error", "raw data")
F = ["finetune", "--encoder", "{d}/none", "--data", "synthetic:size=40,length=64", "--out", "{d}/ft"]
case("flag.finetune_no_encoder", {}, F, "error", "none")
for flag, value in [("--labels", "1.5"), ("--labels", "0"), ("--select", "bogus"), ("--patience", "-1"),
                    ("--bootstrap", "-1"), ("--epochs", "0"), ("--bn-stats", "maybe")]:
    case("flag.supervised" + flag + "=" + value, {},
         ["supervised", "--data", "synthetic:size=40,length=64", "--out", "{d}/sup", flag, value], "error", flag)
case("flag.embed_bad_split", {}, ["embed", "--encoder", "{d}/none", "--data", "synthetic:size=40", "--split",
                                  "holdout", "--out", "{d}/e.npy"], "error", "--split")
case("flag.prepare_set_without_equals", {}, ["prepare", "synthetic", "--set", "size"], "error", "--set")
case("flag.views_bad_generator", {}, ["views", "--generator", "nonsense"], "error", "--generator")
case("flag.quality_bad_channel", {}, ["quality", "--data", "synthetic:size=40", "--channel", "V9"], "error", "V9")
case("flag.plot_bad_index", {}, ["plot", "views", "--data", "synthetic:size=40", "--index", "999", "--out",
                                 "{d}/p"], "error", "--index")
case("flag.launch_nothing", {}, ["launch", "--nproc", "2"], "error", "launch")
case("flag.download_unknown", {}, ["download", "mnist", "--dest", "{d}/dl"], "error", "mnist")


# ---------------------------------------------------------------------------
def run_case(root, name, files, args, expect, needle):
    d = os.path.join(root, "case")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for rel, data in files.items():
        p = os.path.join(d, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)
    argv = [a.replace("{d}", d) for a in args]
    out_dir = None
    if argv[0] == "prepare" and "--out" not in argv:
        out_dir = os.path.join(d, "out")
        argv += ["--out", out_dir]
    try:
        p = subprocess.run([LEAVES] + argv, capture_output=True, timeout=120)
    except subprocess.TimeoutExpired:
        return "timed out"
    err = p.stderr.decode("utf-8", "replace")
    lines = [l for l in err.splitlines() if l.strip() and not l.startswith("leaves: note:")]
    if expect == "ok":
        if p.returncode != 0:
            return f"expected acceptance, exit {p.returncode}: {err.strip()[:300]}"
        return None
    if p.returncode != 2:
        return f"expected exit 2, got {p.returncode}: {err.strip()[:300]}"
    if len(lines) != 1 or not lines[0].startswith("leaves: error: "):
        return f"expected one 'leaves: error:' line, got {len(lines)}: {err.strip()[:300]}"
    line = lines[0]
    if any(bad in line for bad in ("frame #", "Exception raised from", "c10::", "at::", "terminate called")):
        return "LibTorch internals in the message: " + line[:300]
    if any(ord(c) < 0x20 for c in line):
        return "raw control bytes in the message: %r" % line[:300]
    if needle and needle.replace("{d}/", "") not in line and not (needle.startswith("--") and
                                                                  "option " + needle.lstrip("-") in line):
        return f"the message does not name {needle!r}: {line[:300]}"
    if out_dir and os.path.exists(out_dir):
        return "--out was written although the input was refused"
    return None


def main():
    selected = [c for c in CASES if ONLY is None or ONLY in c[0]]
    if "--list" in sys.argv:
        for c in selected:
            print(c[0])
        return 0
    names = [c[0] for c in CASES]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        print("duplicate case names:", sorted(dupes))
        return 1
    root = tempfile.mkdtemp(prefix="leaves-robustness-")
    failures = []
    try:
        for name, files, args, expect, needle in selected:
            why = run_case(root, name, files, args, expect, needle)
            if why:
                failures.append((name, why))
                print(f"FAIL {name}: {why}", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    errors = sum(1 for c in selected if c[3] == "error")
    print(f"robustness: {len(selected)} cases ({errors} bad inputs, {len(selected) - errors} valid), "
          f"{len(selected) - len(failures)} as expected, {len(failures)} not")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
