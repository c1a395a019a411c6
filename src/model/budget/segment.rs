//! Automatic segmentation of a current trace into states by level, and the profile that follows from it.
//!
//! The input is a trace already reduced to per-window mean currents in amperes at a fixed `window_s`; window
//! `k` covers `k·window_s .. (k+1)·window_s`. NaN (or infinite) windows carry no data: they belong to no
//! segment, split runs, and count in no share. Levels are found in log10(current), where a 10 µA sleep and a
//! 120 mA burst are as easy to tell apart as 5 mA and 120 mA: a histogram of the logs of windows on a plateau
//! (close to a neighbouring window, so that a level lasts at least two windows) is clustered by
//! weighted k-means, one level at a time, starting from the most common level and then adding the level that
//! explains most of what is left, until `max_states` or until a new level would sit closer than
//! `min_separation_decades` to another. Each window takes the nearest level; runs shorter than
//! `min_duration_s` are absorbed by a neighbour; states left without a run are dropped; states are numbered
//! and named by mean current ("sleep", "active", "transmit", then "state 4"…).
//!
//! Invariants of a [`Segmentation`]: segments are in time order and do not overlap; every state has at least
//! one segment; state 0 draws the least. Each state's current is its charge over its time, so the profile's
//! average current equals the mean of the valid windows, whatever the segmentation.

use super::profile::{Profile, State};

/// Names given to states by rank of mean current; further states are "state 4", "state 5"…
pub const RANK_NAMES: [&str; 3] = ["sleep", "active", "transmit"];

/// How to segment.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentOptions {
    /// Most states to find.
    pub max_states: usize,
    /// Runs shorter than this are absorbed by a neighbour, s (0: keep every run).
    pub min_duration_s: f64,
    /// Closest two levels may be, in decades of current (0.3 ≈ a factor of 2).
    pub min_separation_decades: f64,
    /// Currents below this (including negative noise around zero) count as this much before the log, A.
    pub floor_a: f64,
}

impl Default for SegmentOptions {
    /// Up to four states, no run merging, levels at least a factor of 2 apart, a 10 nA floor.
    fn default() -> Self {
        Self { max_states: 4, min_duration_s: 0.0, min_separation_decades: 0.3, floor_a: 1e-8 }
    }
}

/// A stretch of time spent in one state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    /// Start, s from the first window.
    pub start_s: f64,
    /// End (exclusive), s.
    pub end_s: f64,
    /// The state, an index into [`Segmentation::names`].
    pub state: usize,
    /// Mean current over the segment, A.
    pub mean_a: f64,
}

impl Segment {
    /// Length, s.
    pub fn duration_s(&self) -> f64 {
        self.end_s - self.start_s
    }
}

/// Why a trace could not be segmented or a segmentation edited.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SegmentError {
    /// A window length that is not a positive number.
    #[error("window length {0} s is not a positive number; give the time each mean covers")]
    BadWindow(f64),
    /// Options out of range.
    #[error("segmentation options are not usable: {0}")]
    BadOptions(&'static str),
    /// Every window is NaN, or there are none.
    #[error("the trace has no data to segment; record some current first")]
    NoData,
    /// A state index past the end.
    #[error("there is no state {0}; pick one of the states listed")]
    NoSuchState(usize),
    /// Merging a state into itself.
    #[error("a state cannot be merged into itself; pick two different states")]
    SameState,
    /// A name already in use, or empty.
    #[error("the name `{0}` is empty or already used by another state; choose another")]
    NameTaken(String),
    /// A boundary index that is not between two touching segments.
    #[error("boundary {0} is not between two touching segments; pick a boundary where one state follows another")]
    NoSuchBoundary(usize),
    /// A boundary moved onto or past a neighbouring boundary.
    #[error("{time_s} s is outside {start_s}..{end_s} s; a boundary moves only between its neighbours")]
    BoundaryOutOfRange {
        /// Where it was asked to go.
        time_s: f64,
        /// Earliest allowed, s (exclusive).
        start_s: f64,
        /// Latest allowed, s (exclusive).
        end_s: f64,
    },
    /// The data passed to an edit does not cover the segments.
    #[error("the trace passed is shorter than the segmentation; pass the same windows that were segmented")]
    DataMismatch,
}

/// A trace cut into segments, with state names and the period when one repeats.
#[derive(Debug, Clone, PartialEq)]
pub struct Segmentation {
    window_s: f64,
    names: Vec<String>,
    segments: Vec<Segment>,
    /// Time between starts of the highest state's bursts, when they repeat regularly, s.
    pub period_s: Option<f64>,
}

/// A run of windows in one state, before it becomes a [`Segment`].
#[derive(Debug, Clone, Copy)]
struct Run {
    first: usize,
    len: usize,
    state: usize,
    sum_a: f64,
}

impl Run {
    fn end(&self) -> usize {
        self.first + self.len
    }
    fn mean_a(&self) -> f64 {
        self.sum_a / self.len as f64
    }
}

/// Segments `means_a` (per-window mean currents, A, NaN = no data) taken every `window_s`.
pub fn segment(means_a: &[f32], window_s: f64, options: &SegmentOptions) -> Result<Segmentation, SegmentError> {
    if !(window_s.is_finite() && window_s > 0.0) {
        return Err(SegmentError::BadWindow(window_s));
    }
    if options.max_states == 0 {
        return Err(SegmentError::BadOptions("max_states must be at least 1"));
    }
    if !(options.min_separation_decades.is_finite() && options.min_separation_decades > 0.0) {
        return Err(SegmentError::BadOptions("min_separation_decades must be a positive number"));
    }
    if !(options.floor_a.is_finite() && options.floor_a > 0.0) {
        return Err(SegmentError::BadOptions("floor_a must be a positive number"));
    }
    let logs: Vec<Option<f64>> =
        means_a.iter().map(|&a| a.is_finite().then(|| f64::from(a).max(options.floor_a).log10())).collect();
    if logs.iter().all(Option::is_none) {
        return Err(SegmentError::NoData);
    }
    let min_windows = ((options.min_duration_s / window_s).ceil() as usize).max(2);
    let plateaus = plateau_windows(&logs, options.min_separation_decades / 2.0);
    let levels = find_levels(&plateaus, options.max_states, options.min_separation_decades, min_windows);
    let mut runs = classify(means_a, &logs, &levels);
    if options.min_duration_s > 0.0 {
        absorb_short_runs(&mut runs, &levels, options.min_duration_s, window_s, options.floor_a);
    }
    Ok(Segmentation::from_runs(window_s, runs))
}

/// The logs of the windows that sit on a plateau: within `tolerance` decades of a neighbouring window. A
/// window that straddles a transition averages two levels and differs from both neighbours, so it cannot
/// pose as a level of its own; it is still classified with the rest. All windows when none qualifies.
fn plateau_windows(logs: &[Option<f64>], tolerance: f64) -> Vec<f64> {
    let near =
        |x: f64, other: Option<&Option<f64>>| other.copied().flatten().is_some_and(|y| (x - y).abs() < tolerance);
    let plateaus: Vec<f64> = logs
        .iter()
        .enumerate()
        .filter_map(|(k, log)| {
            let x = (*log)?;
            (near(x, k.checked_sub(1).and_then(|j| logs.get(j))) || near(x, logs.get(k + 1))).then_some(x)
        })
        .collect();
    if plateaus.is_empty() { logs.iter().flatten().copied().collect() } else { plateaus }
}

/// Cluster centres in log10(A), ascending; at least one.
fn find_levels(logs: &[f64], max_states: usize, min_separation: f64, min_windows: usize) -> Vec<f64> {
    let (lo, hi) = logs.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
    let bin_width = min_separation / 10.0;
    let bins = (((hi - lo) / bin_width).ceil() as usize).clamp(1, 10_000);
    let bin_width = ((hi - lo) / bins as f64).max(f64::MIN_POSITIVE);
    let mut counts = vec![0u64; bins];
    for &x in logs {
        let bin = (((x - lo) / bin_width) as usize).min(bins - 1);
        counts[bin] += 1;
    }
    let centre = |bin: usize| lo + (bin as f64 + 0.5) * bin_width;
    let Some(mode) = (0..bins).max_by_key(|&b| counts[b]) else { return vec![lo] };
    // The most common level first, left where it is: a single k-means centre would drift to the overall mean.
    let mut levels = vec![centre(mode)];
    let support_bins = (min_separation / 2.0 / bin_width).floor() as usize;
    while levels.len() < max_states {
        let distance = |x: f64| levels.iter().map(|l| (x - l).abs()).fold(f64::MAX, f64::min);
        let candidate = (0..bins)
            .filter(|&b| counts[b] > 0 && distance(centre(b)) >= min_separation)
            .filter(|&b| {
                let near = b.saturating_sub(support_bins)..=(b + support_bins).min(bins - 1);
                counts[near].iter().sum::<u64>() >= min_windows as u64
            })
            .max_by(|&a, &b| {
                let score = |bin: usize| counts[bin] as f64 * distance(centre(bin)).powi(2);
                score(a).total_cmp(&score(b))
            });
        let Some(candidate) = candidate else { break };
        let before = levels.clone();
        levels.push(centre(candidate));
        lloyd(&counts, centre, &mut levels);
        levels.sort_by(f64::total_cmp);
        if levels.windows(2).any(|pair| pair[1] - pair[0] < min_separation) {
            levels = before;
            break;
        }
    }
    levels.sort_by(f64::total_cmp);
    levels
}

/// Weighted k-means on the histogram: moves each level to the mean of the bins nearest to it.
fn lloyd(counts: &[u64], centre: impl Fn(usize) -> f64, levels: &mut [f64]) {
    for _ in 0..50 {
        let mut sums = vec![(0.0, 0.0); levels.len()];
        for (bin, &count) in counts.iter().enumerate() {
            if count > 0 {
                let x = centre(bin);
                let nearest = nearest_level(levels, x);
                sums[nearest].0 += x * count as f64;
                sums[nearest].1 += count as f64;
            }
        }
        let mut moved = false;
        for (level, (sum, weight)) in levels.iter_mut().zip(sums) {
            if weight > 0.0 {
                let next = sum / weight;
                moved |= (next - *level).abs() > 1e-9;
                *level = next;
            }
        }
        if !moved {
            break;
        }
    }
}

fn nearest_level(levels: &[f64], x: f64) -> usize {
    (0..levels.len()).min_by(|&a, &b| (x - levels[a]).abs().total_cmp(&(x - levels[b]).abs())).unwrap_or(0)
}

/// Gives each valid window its nearest level and groups them into runs; NaN windows end a run.
fn classify(means_a: &[f32], logs: &[Option<f64>], levels: &[f64]) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    for (k, log) in logs.iter().enumerate() {
        let Some(x) = log else { continue };
        let state = nearest_level(levels, *x);
        let a = f64::from(means_a[k]);
        match runs.last_mut() {
            Some(run) if run.state == state && run.end() == k => {
                run.len += 1;
                run.sum_a += a;
            }
            _ => runs.push(Run { first: k, len: 1, state, sum_a: a }),
        }
    }
    runs
}

/// Merges each run shorter than `min_duration_s` into a touching neighbour: into both when they share a state,
/// else into the one whose level is nearer the run's own mean. Runs with no touching neighbour stay.
fn absorb_short_runs(runs: &mut Vec<Run>, levels: &[f64], min_duration_s: f64, window_s: f64, floor_a: f64) {
    let short = |run: &Run| (run.len as f64) * window_s < min_duration_s;
    loop {
        let mut out: Vec<Run> = Vec::with_capacity(runs.len());
        let mut changed = false;
        let mut i = 0;
        while i < runs.len() {
            let run = runs[i];
            let prev = out.last().filter(|p| p.end() == run.first).copied();
            let next = runs.get(i + 1).filter(|n| run.end() == n.first).copied();
            if !short(&run) || (prev.is_none() && next.is_none()) {
                out.push(run);
                i += 1;
                continue;
            }
            changed = true;
            let x = run.mean_a().max(floor_a).log10();
            let into_prev = match (prev, next) {
                (Some(p), Some(n)) if p.state == n.state => {
                    if let Some(last) = out.last_mut() {
                        last.len += run.len + n.len;
                        last.sum_a += run.sum_a + n.sum_a;
                    }
                    i += 2;
                    continue;
                }
                (Some(p), Some(n)) => (x - levels[p.state]).abs() <= (x - levels[n.state]).abs(),
                (Some(_), None) => true,
                _ => false,
            };
            if into_prev && let Some(last) = out.last_mut() {
                last.len += run.len;
                last.sum_a += run.sum_a;
            } else if let Some(n) = runs.get_mut(i + 1) {
                n.first = run.first;
                n.len += run.len;
                n.sum_a += run.sum_a;
            }
            i += 1;
        }
        *runs = out;
        if !changed {
            return;
        }
    }
}

impl Segmentation {
    /// Renumbers the states of `runs` by mean current, drops empty ones, joins touching runs of one state.
    fn from_runs(window_s: f64, runs: Vec<Run>) -> Self {
        let mut segmentation = Self { window_s, names: Vec::new(), segments: Vec::new(), period_s: None };
        let states = runs.iter().map(|r| r.state + 1).max().unwrap_or(0);
        segmentation.names = (0..states).map(|i| format!("level {i}")).collect();
        segmentation.segments = runs
            .iter()
            .map(|r| Segment {
                start_s: r.first as f64 * window_s,
                end_s: r.end() as f64 * window_s,
                state: r.state,
                mean_a: r.mean_a(),
            })
            .collect();
        segmentation.tidy();
        segmentation.names = (0..segmentation.names.len()).map(rank_name).collect();
        segmentation
    }

    /// Restores the invariants after an edit: touching segments of one state joined, unused states dropped,
    /// states ordered by mean current (names travel with their state), period detected again.
    fn tidy(&mut self) {
        let mut joined: Vec<Segment> = Vec::with_capacity(self.segments.len());
        for segment in self.segments.drain(..) {
            match joined.last_mut() {
                Some(last)
                    if last.state == segment.state && (last.end_s - segment.start_s).abs() < self.window_s / 2.0 =>
                {
                    let (a, b) = (last.duration_s(), segment.duration_s());
                    last.mean_a = (last.mean_a * a + segment.mean_a * b) / (a + b);
                    last.end_s = segment.end_s;
                }
                _ => joined.push(segment),
            }
        }
        self.segments = joined;
        let used: Vec<usize> =
            (0..self.names.len()).filter(|&s| self.segments.iter().any(|seg| seg.state == s)).collect();
        let mut order = used.clone();
        order.sort_by(|&a, &b| self.state_mean_a(a).total_cmp(&self.state_mean_a(b)));
        let mut new_index = vec![usize::MAX; self.names.len()];
        for (rank, &old) in order.iter().enumerate() {
            new_index[old] = rank;
        }
        self.names = order.iter().map(|&old| self.names[old].clone()).collect();
        for segment in &mut self.segments {
            segment.state = new_index[segment.state];
        }
        self.period_s = self.detect_period();
    }

    /// The window length the trace was segmented at, s.
    pub fn window_s(&self) -> f64 {
        self.window_s
    }

    /// The state names; a state's index is its position here, lowest mean current first.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The segments, in time order.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Time spent in `state`, s.
    pub fn state_time_s(&self, state: usize) -> f64 {
        self.segments.iter().filter(|s| s.state == state).map(Segment::duration_s).sum()
    }

    /// Mean current of `state` (its charge over its time), A; NaN for a state with no time.
    pub fn state_mean_a(&self, state: usize) -> f64 {
        let (charge, time) = self
            .segments
            .iter()
            .filter(|s| s.state == state)
            .fold((0.0, 0.0), |(q, t), s| (q + s.mean_a * s.duration_s(), t + s.duration_s()));
        charge / time
    }

    /// The profile of the trace: each state's mean current and share of the time with data, and the
    /// detected period. Currents below zero (offset noise) count as zero.
    pub fn profile(&self, name: &str) -> Profile {
        let total_s: f64 = self.segments.iter().map(Segment::duration_s).sum();
        let states = (0..self.names.len())
            .map(|i| {
                State::new(
                    self.names[i].clone(),
                    (self.state_mean_a(i) * 1000.0).max(0.0),
                    self.state_time_s(i) / total_s,
                )
            })
            .collect();
        Profile { name: name.to_string(), period_s: self.period_s, states }
    }

    /// Renames `state`.
    pub fn rename_state(&mut self, state: usize, name: &str) -> Result<(), SegmentError> {
        if state >= self.names.len() {
            return Err(SegmentError::NoSuchState(state));
        }
        let taken = self.names.iter().enumerate().any(|(i, n)| i != state && n == name);
        if name.trim().is_empty() || taken {
            return Err(SegmentError::NameTaken(name.to_string()));
        }
        self.names[state] = name.to_string();
        Ok(())
    }

    /// Moves every segment of `absorb` into `keep`, which keeps its name; states are renumbered by current.
    pub fn merge_states(&mut self, keep: usize, absorb: usize) -> Result<(), SegmentError> {
        for state in [keep, absorb] {
            if state >= self.names.len() {
                return Err(SegmentError::NoSuchState(state));
            }
        }
        if keep == absorb {
            return Err(SegmentError::SameState);
        }
        for segment in &mut self.segments {
            if segment.state == absorb {
                segment.state = keep;
            }
        }
        self.tidy();
        Ok(())
    }

    /// Moves the boundary between segments `boundary` and `boundary + 1` to `time_s` (snapped to a window
    /// edge), recomputing both means from `means_a`, the windows that were segmented.
    pub fn move_boundary(&mut self, means_a: &[f32], boundary: usize, time_s: f64) -> Result<(), SegmentError> {
        let (Some(left), Some(right)) = (self.segments.get(boundary), self.segments.get(boundary + 1)) else {
            return Err(SegmentError::NoSuchBoundary(boundary));
        };
        let window = |t: f64| (t / self.window_s).round() as usize;
        if window(left.end_s) != window(right.start_s) {
            return Err(SegmentError::NoSuchBoundary(boundary));
        }
        let (first, at, end) = (window(left.start_s), window(time_s.max(0.0)), window(right.end_s));
        if !(time_s.is_finite() && first < at && at < end) {
            return Err(SegmentError::BoundaryOutOfRange { time_s, start_s: left.start_s, end_s: right.end_s });
        }
        let data = means_a.get(first..end).ok_or(SegmentError::DataMismatch)?;
        let mean = |windows: &[f32]| windows.iter().map(|&a| f64::from(a)).sum::<f64>() / windows.len() as f64;
        let split = at - first;
        let (left_mean, right_mean) = (mean(&data[..split]), mean(&data[split..]));
        if !(left_mean.is_finite() && right_mean.is_finite()) {
            return Err(SegmentError::DataMismatch);
        }
        let edge_s = at as f64 * self.window_s;
        self.segments[boundary].end_s = edge_s;
        self.segments[boundary].mean_a = left_mean;
        self.segments[boundary + 1].start_s = edge_s;
        self.segments[boundary + 1].mean_a = right_mean;
        self.tidy();
        Ok(())
    }

    /// The period, when the highest state starts at regular intervals: at least two intervals, 80 % of them
    /// within 10 % of the median; the period is the mean of those.
    fn detect_period(&self) -> Option<f64> {
        let top = self.names.len().checked_sub(1)?;
        if top == 0 {
            return None;
        }
        let starts: Vec<f64> = self.segments.iter().filter(|s| s.state == top).map(|s| s.start_s).collect();
        let mut intervals: Vec<f64> = starts.windows(2).map(|w| w[1] - w[0]).collect();
        if intervals.len() < 2 {
            return None;
        }
        intervals.sort_by(f64::total_cmp);
        let median = intervals[intervals.len() / 2];
        let regular: Vec<f64> = intervals.iter().copied().filter(|i| (i - median).abs() <= 0.1 * median).collect();
        if (regular.len() as f64) < 0.8 * intervals.len() as f64 {
            return None;
        }
        Some(regular.iter().sum::<f64>() / regular.len() as f64)
    }
}

/// "sleep", "active", "transmit", then "state 4", "state 5"…
fn rank_name(rank: usize) -> String {
    RANK_NAMES.get(rank).map_or_else(|| format!("state {}", rank + 1), |name| name.to_string())
}

#[cfg(test)]
#[path = "segment_tests.rs"]
mod tests;
