#!/usr/bin/env python3
"""Benchtop's trace store beside Joulescope's JLS format (pyjls) on the same workload.

Runs `benchtop trace bench` (the workload in src/trace/bench.rs) and the same workload through pyjls, then
prints each figure for both, the ratio, and Benchtop's targets:

    python3 scripts/bench-vs-pyjls.py                      # 2·10⁹ samples: two files of about 8.2 GB each
    python3 scripts/bench-vs-pyjls.py --samples 2e8        # a quick run
    python3 scripts/bench-vs-pyjls.py --reuse              # keep the files of an earlier run (no append figures)

The workload, for both:
- write N f32 samples of a 1 MS/s current-like channel (a noisy 2 µA floor with 80 mA bursts of 500 samples
  every 100,000) from four prepared buffers of 2²² samples, used in turn (generating them is not timed); the
  append rate counts from creating the file to closing it;
- bytes per sample: the file's size over N;
- open: opening the finished file, median of 21;
- exact statistics (mean, std, min, max) over all samples, median of 101;
- exact statistics over 1000 random sub-ranges [a, b) (a uniform in [0, N), b uniform in [a, N]), each read
  once before it is timed (warm cache): median and worst;
- 2,000 per-pixel summaries over a span of N, N/4, N/16, … down to the last span of 1000 samples or more, 15
  random starts per span, each called once before it is timed: the worst span's median and the worst call.

The random ranges and starts come from the same generator as the Rust side (rand_pcg's Pcg64Mcg seeded with
11, rand 0.9's uniform sampling, reimplemented below), so both libraries are asked for the same ranges. The
waveform's noise comes from numpy rather than Pcg64Mcg(7): same shape and distribution, not the same bits.

pyjls is installed with pip if it is missing (with numpy). Needs the release binary: cargo build --release.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Benchtop's targets: (figure, comparison, value, what it says).
TARGETS = {
    "append_msps": (">=", 150.0, "≥ 150"),
    "bytes_per_sample": ("<=", 4.1, "≤ 4.1"),
    "open_ms": ("<=", 1.0, "≤ 1 (2·10⁹)"),
    "stats_all_ms": ("<=", 0.2, "≤ 0.2"),
    "stats_range_median_ms": ("<=", 0.5, "≤ 0.5"),
    "stats_range_worst_ms": ("<=", 0.5, "≤ 0.5"),
    "columns_worst_zoom_ms": ("<=", 1.0, "≤ 1"),
    "columns_worst_ms": None,
}

# The rows of the table: (field, label, higher is better).
ROWS = [
    ("append_msps", "append, M samples/s", True),
    ("bytes_per_sample", "storage, bytes/sample", False),
    ("open_ms", "open, ms (median of 21)", False),
    ("stats_all_ms", "stats over all samples, ms", False),
    ("stats_range_median_ms", "stats over a sub-range, ms, median", False),
    ("stats_range_worst_ms", "stats over a sub-range, ms, worst", False),
    ("columns_worst_zoom_ms", "2,000 summaries, ms, worst zoom", False),
    ("columns_worst_ms", "2,000 summaries, ms, worst call", False),
]

# Bytes per sample used to check free space before writing (measured: 4.07 for Benchtop, 4.14 for JLS).
ESTIMATED_BYTES_PER_SAMPLE = {"btr": 4.1, "jls": 4.2}
SPARE_BYTES = 1 << 30


def log(*what: object) -> None:
    print(*what, file=sys.stderr, flush=True)


def import_pyjls():
    """pyjls and numpy, installed with pip first if either is missing."""
    try:
        import numpy  # noqa: F401
        import pyjls  # noqa: F401
    except ImportError:
        log("installing pyjls and numpy with pip")
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "pyjls", "numpy"], check=True)
    import numpy
    import pyjls

    return numpy, pyjls


# ---- The Rust side's random numbers: rand_pcg 0.9 Pcg64Mcg and rand 0.9 uniform sampling ----------------

MASK64 = (1 << 64) - 1
MASK128 = (1 << 128) - 1


class Pcg64Mcg:
    """rand_pcg's Mcg128Xsl64: a 128-bit multiplicative generator with the XSL RR output."""

    MULTIPLIER = 0x2360_ED05_1FC6_5DA4_4385_DF64_9FCC_F645

    def __init__(self, state: int):
        self.state = (state | 1) & MASK128

    @classmethod
    def seed_from_u64(cls, seed: int) -> "Pcg64Mcg":
        # rand_core 0.9's SeedableRng::seed_from_u64: PCG32 fills the 16 seed bytes, 4 at a time.
        state = seed & MASK64
        words = []
        for _ in range(4):
            state = (state * 6364136223846793005 + 11634580027462260723) & MASK64
            xorshifted = (((state >> 18) ^ state) >> 27) & 0xFFFF_FFFF
            rot = state >> 59
            words.append(((xorshifted >> rot) | (xorshifted << ((32 - rot) & 31))) & 0xFFFF_FFFF)
        return cls(words[0] | words[1] << 32 | words[2] << 64 | words[3] << 96)

    def next_u64(self) -> int:
        self.state = (self.state * self.MULTIPLIER) & MASK128
        rot = self.state >> 122
        xsl = ((self.state >> 64) ^ self.state) & MASK64
        return ((xsl >> rot) | (xsl << ((64 - rot) & 63))) & MASK64

    def range_inclusive_u64(self, low: int, high: int) -> int:
        """rand 0.9's `random_range(low..=high)` for u64 (Canon's method, the default, biased variant)."""
        span = (high - low + 1) & MASK64
        if span == 0:
            return self.next_u64()
        product = self.next_u64() * span
        result, lo_order = product >> 64, product & MASK64
        if lo_order > ((-span) & MASK64):
            new_hi_order = (self.next_u64() * span) >> 64
            if lo_order + new_hi_order > MASK64:
                result += 1
        return (low + result) & MASK64

    def range_u64(self, low: int, high: int) -> int:
        """`random_range(low..high)`."""
        return self.range_inclusive_u64(low, high - 1)

    def range_inclusive_f64(self, low: float, high: float) -> float:
        """`random_range(low..=high)` for f64: 52 random bits as a value in [1, 2), less 1, scaled."""
        bits = (self.next_u64() >> 12) | (1023 << 52)
        (value1_2,) = struct.unpack("<d", struct.pack("<Q", bits))
        return (value1_2 - 1.0) * (high - low) + low


def sub_ranges(n: int, rng: Pcg64Mcg, count: int = 1000) -> list[tuple[int, int]]:
    ranges = []
    for _ in range(count):
        a = rng.range_u64(0, n)
        b = rng.range_inclusive_u64(a, n)
        ranges.append((a, b))
    return ranges


# ---- Helpers ----------------------------------------------------------------------------------------------


def parse_count(text: str) -> int:
    text = text.replace("_", "")
    value = float(text) if any(c in text for c in "eE.") else int(text)
    if value != int(value) or value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a whole number of samples")
    return int(value)


def human_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1000
    return f"{n} B"


def median_ms(times_ns: list[int]) -> float:
    ordered = sorted(times_ns)
    return ordered[len(ordered) // 2] / 1e6 if ordered else 0.0


def other_bench_processes() -> list[str]:
    """`benchtop trace bench` runs other than ours, whose disk and CPU use would disturb the timings."""
    try:
        out = subprocess.run(["pgrep", "-af", "trace bench"], capture_output=True, text=True).stdout
    except FileNotFoundError:
        return []
    mine = {str(os.getpid())}
    return [line for line in out.splitlines() if line.split(" ", 1)[0] not in mine and "pgrep" not in line]


def wait_for_quiet_machine() -> None:
    announced = False
    while others := other_bench_processes():
        if not announced:
            log("waiting for another trace bench to finish (so that the timings are not disturbed):")
            for line in others:
                log(f"  {line}")
            announced = True
        time.sleep(10)


def check_free_space(directory: Path, files: dict[str, Path], samples: int) -> None:
    """Refuses, with what is needed, if the files to write would not fit."""
    needed = 0
    for kind, path in files.items():
        existing = path.stat().st_size if path.exists() else 0
        needed += max(0, int(samples * ESTIMATED_BYTES_PER_SAMPLE[kind]) - existing)
    free = shutil.disk_usage(directory).free
    if needed and needed + SPARE_BYTES > free:
        sys.exit(
            f"error: not enough free disk space in {directory}: the two recordings of {samples:,} samples need "
            f"about {human_bytes(needed)} more (plus {human_bytes(SPARE_BYTES)} spare), and "
            f"{human_bytes(free)} is free. Free some space, choose another --dir, or use fewer --samples "
            f"(e.g. --samples 2e8)."
        )


# ---- Benchtop ---------------------------------------------------------------------------------------------


def run_benchtop(binary: Path, path: Path, samples: int, reuse: bool) -> dict:
    probe = subprocess.run([str(binary), "trace", "bench", "--help"], capture_output=True, text=True)
    if probe.returncode != 0:
        sys.exit(f"error: {binary} has no `trace bench` command; build the release binary of a newer Benchtop")
    command = [str(binary), "trace", "bench", "--samples", str(samples), "--out", str(path), "--json"]
    if reuse:
        command.append("--reuse")
    log("benchtop: " + " ".join(command))
    zooms = []
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None and process.stdout is not None
    for line in process.stderr:
        log(f"  benchtop: {line.rstrip()}")
        if m := re.match(r"2,000 columns over (\d+) samples: ([\d.]+) ms median", line):
            zooms.append({"span": int(m.group(1)), "median_ms": float(m.group(2))})
    out = process.stdout.read()
    if process.wait() != 0:
        sys.exit(f"error: benchtop trace bench failed (exit {process.returncode})")
    report = json.loads(out)
    # NaN (not measured, as with --reuse) arrives as null.
    report = {k: (float("nan") if v is None else v) for k, v in report.items()}
    report["zooms"] = zooms
    return report


# ---- pyjls ------------------------------------------------------------------------------------------------

SIGNAL_ID = 1
BUFFER_LEN = 1 << 22


def waveform_buffers(np) -> list:
    """Four buffers of the Rust side's waveform: buffer b as if it started at sample b·2²²."""
    rng = np.random.default_rng(7)
    buffers = []
    for b in range(4):
        n = np.arange(b * BUFFER_LEN, (b + 1) * BUFFER_LEN, dtype=np.uint64)
        floor = np.float32(2e-6) + rng.random(BUFFER_LEN, dtype=np.float32) * np.float32(1e-7)
        burst = np.float32(0.08) + floor * np.float32(1000.0)
        buffers.append(np.ascontiguousarray(np.where(n % 100_000 < 500, burst, floor).astype(np.float32)))
    return buffers


def jls_length(pyjls, path: Path) -> int | None:
    if not path.is_file():
        return None  # (the library would print "open failed" to stderr)
    try:
        with pyjls.Reader(str(path)) as reader:
            return reader.signals[SIGNAL_ID].length
    except Exception:  # noqa: BLE001 (a missing, unfinished or foreign file is simply rewritten)
        return None


def write_jls(np, pyjls, path: Path, samples: int) -> float:
    buffers = waveform_buffers(np)
    started = time.perf_counter()
    writer = pyjls.Writer(str(path))
    writer.source_def(source_id=1, name="bench", vendor="Benchtop", model="workload", version="1", serial_number="0")
    writer.signal_def(SIGNAL_ID, source_id=1, sample_rate=1_000_000, name="current", units="A")
    written = 0
    index = 0
    while written < samples:
        buffer = buffers[index % len(buffers)]
        n = min(samples - written, len(buffer))
        writer.fsr_f32(SIGNAL_ID, written, buffer[:n])
        written += n
        index += 1
    writer.close()
    return samples / (time.perf_counter() - started) / 1e6


def run_pyjls(np, pyjls, path: Path, samples: int, reuse: bool) -> dict:
    if reuse and jls_length(pyjls, path) == samples:
        log("  pyjls: reusing the recording written by an earlier run (append rate not measured again)")
        append_msps = float("nan")
    else:
        log(f"  pyjls: writing {samples} samples to {path}")
        append_msps = write_jls(np, pyjls, path, samples)
    length = jls_length(pyjls, path)
    if length != samples:
        sys.exit(f"error: {path} holds {length} samples after writing {samples}")
    bytes_per_sample = path.stat().st_size / samples
    clock = time.perf_counter_ns

    opens = []
    for _ in range(21):
        started = clock()
        reader = pyjls.Reader(str(path))
        opens.append(clock() - started)
        reader.close()

    reader = pyjls.Reader(str(path))
    n = reader.signals[SIGNAL_ID].length
    stats = reader.fsr_statistics

    everything = []
    for _ in range(101):
        started = clock()
        stats(SIGNAL_ID, 0, n, 1)
        everything.append(clock() - started)

    rng = Pcg64Mcg.seed_from_u64(11)
    ranges = []
    for a, b in sub_ranges(n, rng):
        # JLS has no empty range (increment 0 is an error): an empty draw, rare, asks for one sample.
        length = max(b - a, 1)
        stats(SIGNAL_ID, a, length, 1)
        started = clock()
        stats(SIGNAL_ID, a, length, 1)
        ranges.append(clock() - started)

    zooms = []
    columns_worst_zoom_ms = 0.0
    columns_worst_ms = 0.0
    span = float(n)
    while span >= 1000.0:
        # JLS takes a whole number of samples per column: round it (at least 1), keep 2,000 columns.
        increment = max(1, round(span / 2000))
        count = min(2000, n // increment)
        times = []
        for _ in range(15):
            start = rng.range_inclusive_f64(0.0, float(n) - span)
            first = min(int(start), n - increment * count)
            stats(SIGNAL_ID, first, increment, count)
            started = clock()
            stats(SIGNAL_ID, first, increment, count)
            times.append(clock() - started)
        zoom_ms = median_ms(times)
        log(f"  pyjls: 2,000 summaries over {span:.0f} samples ({increment} each): {zoom_ms:.3f} ms median")
        zooms.append({"span": int(f"{span:.0f}"), "increment": increment, "median_ms": zoom_ms, "worst_ms": max(times) / 1e6})
        columns_worst_zoom_ms = max(columns_worst_zoom_ms, zoom_ms)
        columns_worst_ms = max(columns_worst_ms, max(times) / 1e6)
        span /= 4.0
    reader.close()

    return {
        "samples": samples,
        "append_msps": append_msps,
        "bytes_per_sample": bytes_per_sample,
        "open_ms": median_ms(opens),
        "stats_all_ms": median_ms(everything),
        "stats_range_median_ms": median_ms(ranges),
        "stats_range_worst_ms": max(ranges) / 1e6,
        "columns_worst_zoom_ms": columns_worst_zoom_ms,
        "columns_worst_ms": columns_worst_ms,
        "zooms": zooms,
    }


# ---- The table --------------------------------------------------------------------------------------------


def ratio(field: str, higher_better: bool, benchtop: dict, jls: dict) -> float:
    b, j = benchtop[field], jls[field]
    if any(isinstance(v, float) and math.isnan(v) for v in (b, j)):
        return float("nan")
    try:
        return b / j if higher_better else j / b
    except ZeroDivisionError:
        return float("inf")


def meets(field: str, value: float) -> bool | None:
    target = TARGETS.get(field)
    if target is None or math.isnan(value):
        return None
    op, limit, _ = target
    return value >= limit if op == ">=" else value <= limit


def fmt(field: str, value: float) -> str:
    if math.isnan(value):
        return "–"
    if field == "append_msps":
        return f"{value:.1f}"
    if field == "bytes_per_sample":
        return f"{value:.4f}"
    return f"{value:.4f}" if value < 10 else f"{value:.1f}"


def mark(ok: bool | None) -> str:
    return {True: "yes", False: "NO", None: ""}[ok]


def print_table(result: dict) -> None:
    benchtop, jls = result["benchtop"], result["pyjls"]
    print(f"Benchtop trace store vs pyjls {result['pyjls_version']} (Joulescope JLS), {result['samples']:,} f32 samples at 1 MS/s")
    for kind, info in result["files"].items():
        print(f"  {kind:8} {info['path']}  {human_bytes(info['bytes'])} ({info['bytes']:,} bytes)")
    print(f"  load average (1 min) {result['load_before']:.2f} before, {result['load_after']:.2f} after, {result['cpus']} CPUs")
    print()
    header = f"{'figure':36} {'Benchtop':>10} {'pyjls':>10} {'ratio':>8}   {'target':12} {'Benchtop':>8} {'pyjls':>6}"
    print(header)
    print("-" * len(header))
    for field, label, higher_better in ROWS:
        r = result["ratio"][field]
        target = TARGETS.get(field)
        print(
            f"{label:36} {fmt(field, benchtop[field]):>10} {fmt(field, jls[field]):>10} "
            f"{'–' if math.isnan(r) else f'{r:.2f}×':>8}   {target[2] if target else '':12} "
            f"{mark(meets(field, benchtop[field])):>8} {mark(meets(field, jls[field])):>6}"
        )
    print()
    print("ratio: pyjls/Benchtop for times and bytes, Benchtop/pyjls for the append rate (above 1: Benchtop better).")
    print("target, Benchtop, pyjls: Benchtop's target and whether each meets it.")
    if math.isnan(benchtop["append_msps"]) or math.isnan(jls["append_msps"]):
        print("append: – where the recording was reused (--reuse) and not written again.")
    zooms_b = {z["span"]: z["median_ms"] for z in benchtop.get("zooms", [])}
    if jls.get("zooms"):
        print()
        print(f"{'2,000 summaries, median over a span of':50} {'Benchtop ms':>11} {'pyjls ms':>10} {'ratio':>8}")
        for z in jls["zooms"]:
            b = zooms_b.get(z["span"], float("nan"))
            r = z["median_ms"] / b if b and not math.isnan(b) else float("nan")
            span = f"{z['span']:,} samples ({z['increment']:,} per JLS column)"
            # Benchtop prints its per-span medians to 3 decimals: show both sides alike.
            jls_ms = f"{z['median_ms']:.3f}"
            benchtop_ms = "–" if math.isnan(b) else f"{b:.3f}"
            print(f"  {span:48} {benchtop_ms:>11} {jls_ms:>10} {'–' if math.isnan(r) else f'{r:.2f}×':>8}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=parse_count, default=2_000_000_000, help="samples to write (default 2e9)")
    parser.add_argument("--dir", type=Path, default=None, help="where the recordings go (default target/bench-traces)")
    parser.add_argument("--reuse", action="store_true", help="reuse the recordings of an earlier run of the same size")
    parser.add_argument("--benchtop", type=Path, default=None, help="the benchtop binary (default target/release/benchtop)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    args = parser.parse_args()

    directory = args.dir if args.dir is not None else REPO / "target" / "bench-traces"
    binary = args.benchtop if args.benchtop is not None else REPO / "target" / "release" / "benchtop"
    if not binary.exists():
        sys.exit(f"error: {binary} not found; build it with `cargo build --release` or pass --benchtop PATH")
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        "btr": directory / f"bench-{args.samples}.btr",
        "jls": directory / f"bench-{args.samples}.jls",
    }
    np, pyjls = import_pyjls()

    to_write = dict(files)
    if args.reuse and jls_length(pyjls, files["jls"]) == args.samples:
        del to_write["jls"]
    check_free_space(directory, to_write, args.samples)

    wait_for_quiet_machine()
    load_before = os.getloadavg()[0]
    benchtop = run_benchtop(binary, files["btr"], args.samples, args.reuse)
    wait_for_quiet_machine()
    jls = run_pyjls(np, pyjls, files["jls"], args.samples, args.reuse)

    result = {
        "samples": args.samples,
        "pyjls_version": pyjls.__version__,
        "cpus": os.cpu_count(),
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "files": {kind: {"path": str(path), "bytes": path.stat().st_size} for kind, path in files.items()},
        "benchtop": benchtop,
        "pyjls": jls,
        "ratio": {field: ratio(field, higher, benchtop, jls) for field, _, higher in ROWS},
        "targets": {field: t[2] for field, t in TARGETS.items() if t},
        "meets": {
            side: {field: meets(field, report[field]) for field, t in TARGETS.items() if t}
            for side, report in (("benchtop", benchtop), ("pyjls", jls))
        },
    }
    if args.json:
        # NaN (not measured) as null, so that any JSON reader takes it.
        def clean(value):
            if isinstance(value, float) and not math.isfinite(value):
                return None
            if isinstance(value, dict):
                return {k: clean(v) for k, v in value.items()}
            if isinstance(value, list):
                return [clean(v) for v in value]
            return value

        print(json.dumps(clean(result), indent=2))
    else:
        print_table(result)


if __name__ == "__main__":
    main()
