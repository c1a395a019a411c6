//! Live plot panes: one egui_plot per pane, x axes linked, fed with min/max envelopes per pixel column, laid
//! out as egui_tiles tiles that the user can rearrange.
//!
//! In follow mode each pane shows the last `window_s` seconds up to the newest sample; dragging or zooming
//! a plot leaves follow mode, and pausing freezes the time axis while data keeps arriving. Drawing cost
//! depends on the plot's width in pixels, never on how much history is kept.

use eframe::egui::{self, Color32, Id, RichText};
use egui_plot::{Legend, Line, Plot, PlotPoints};

use super::theme;
use crate::model::live::LiveDevice;

/// Follow-mode windows offered, in seconds (1 s to 1 h).
pub const WINDOWS_S: [f64; 8] = [1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0];

/// One plot pane and the channels drawn in it (indices into [`LiveDevice::channels`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Pane {
    /// Title, usually the unit its channels share.
    pub title: String,
    /// Channels shown.
    pub channels: Vec<usize>,
}

/// What the plots show and how.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotState {
    /// The panes, top to bottom.
    pub panes: Vec<Pane>,
    /// Per channel: drawn or hidden.
    pub visible: Vec<bool>,
    /// Follow the newest data.
    pub follow: bool,
    /// Width of the followed window, s.
    pub window_s: f64,
    /// Frozen time axis end while paused, s.
    pub paused_at_s: Option<f64>,
    /// Show the whole history on the next frame (then leave the axes to the user).
    pub fit_all: bool,
    /// Per channel: its colour.
    pub colors: Vec<Color32>,
    /// An XY plot of channel `.1` against channel `.0`, over the same time range as the panes.
    pub xy: Option<(usize, usize)>,
    /// The time range the panes showed last frame, s.
    pub view_range: Option<(f64, f64)>,
}

impl Default for PlotState {
    /// No panes, following the last 10 s.
    fn default() -> Self {
        Self {
            panes: Vec::new(),
            visible: Vec::new(),
            follow: true,
            window_s: 10.0,
            paused_at_s: None,
            fit_all: false,
            colors: Vec::new(),
            xy: None,
            view_range: None,
        }
    }
}

impl PlotState {
    /// One pane per unit, in the device's channel order; everything visible, following the last 10 s.
    pub fn for_device(device: &LiveDevice) -> Self {
        let mut state = Self::default();
        state.sync(device);
        state
    }

    /// Adds channels the device gained since (text boards name channels as they go) to the pane of their
    /// unit, visible.
    pub fn sync(&mut self, device: &LiveDevice) {
        for i in self.visible.len()..device.channels.len() {
            let channel = &device.channels[i];
            // Without a unit there is no telling which channels share a scale: each gets its own pane.
            let title = if channel.unit.is_empty() { channel.name.as_str() } else { channel.unit.as_str() };
            match self.panes.iter_mut().find(|p| p.title == title && !channel.unit.is_empty()) {
                Some(pane) => pane.channels.push(i),
                None => self.panes.push(Pane { title: title.to_string(), channels: vec![i] }),
            }
            self.visible.push(true);
            self.colors.push(theme::SERIES[i % theme::SERIES.len()]);
        }
    }

    /// The colour of channel `index`.
    pub fn color(&self, index: usize) -> Color32 {
        self.colors.get(index).copied().unwrap_or_else(|| theme::SERIES[index % theme::SERIES.len()])
    }

    /// Moves a channel to pane `target`, or to a new pane of its own with `None`; empty panes go.
    pub fn move_to_pane(&mut self, channel: usize, target: Option<usize>, title: &str) {
        let target_title = target.and_then(|t| self.panes.get(t)).map(|p| p.title.clone());
        for pane in &mut self.panes {
            pane.channels.retain(|&c| c != channel);
        }
        match target_title.and_then(|title| self.panes.iter_mut().find(|p| p.title == title)) {
            Some(pane) => pane.channels.push(channel),
            None => self.panes.push(Pane { title: title.to_string(), channels: vec![channel] }),
        }
        self.panes.retain(|p| !p.channels.is_empty());
    }

    /// Pauses, or resumes following.
    pub fn toggle_pause(&mut self, newest_s: f64) {
        if self.paused_at_s.take().is_none() {
            self.paused_at_s = Some(newest_s);
        } else {
            self.follow = true;
        }
    }
}

/// The dockable arrangement of a device's panes: each plot pane and the XY plot is a tile that can be dragged
/// into rows, columns or tabs. Rebuilt as a vertical stack when panes are added or removed.
pub struct PlotLayout {
    id: Id,
    tree: egui_tiles::Tree<Tile>,
    /// The tiles the tree was built for.
    built_for: Vec<Tile>,
}

/// What a tile shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum Tile {
    /// Plot pane `n` of [`PlotState::panes`].
    Pane(usize),
    /// The XY plot.
    Xy,
}

impl PlotLayout {
    /// An empty layout for the device with this id (each device keeps its own arrangement).
    pub fn new(device: u64) -> Self {
        let id = Id::unique(("benchtop-plot-tiles", device));
        Self { id, tree: egui_tiles::Tree::new_vertical(id, Vec::new()), built_for: Vec::new() }
    }

    /// Keeps the tree in step with the panes; a user's arrangement survives as long as the panes do.
    fn sync(&mut self, state: &PlotState) {
        let wanted: Vec<Tile> = (0..state.panes.len()).map(Tile::Pane).chain(state.xy.map(|_| Tile::Xy)).collect();
        if wanted != self.built_for {
            self.tree = egui_tiles::Tree::new_vertical(self.id, wanted.clone());
            self.built_for = wanted;
        }
    }

    /// The arrangement, to save; `None` before any pane was laid out.
    pub fn saved(&self) -> Option<&egui_tiles::Tree<Tile>> {
        (!self.built_for.is_empty()).then_some(&self.tree)
    }

    /// Takes a saved arrangement; it is used if the device shows the same panes, else replaced.
    pub fn restore(&mut self, tree: egui_tiles::Tree<Tile>) {
        let mut tiles: Vec<Tile> = tree
            .tiles
            .tiles()
            .filter_map(|tile| if let egui_tiles::Tile::Pane(pane) = tile { Some(*pane) } else { None })
            .collect();
        tiles.sort();
        self.built_for = tiles;
        self.tree = tree;
    }
}

/// What every pane of one frame shares.
struct Frame {
    follow_range: Option<(f64, f64)>,
    /// The range the panes drew.
    drawn: Option<(f64, f64)>,
    group: Id,
    hovered_t: Option<f64>,
    user_moved: bool,
}

struct Behavior<'a> {
    device: &'a LiveDevice,
    state: &'a PlotState,
    frame: Frame,
}

impl egui_tiles::Behavior<Tile> for Behavior<'_> {
    fn pane_ui(&mut self, ui: &mut egui::Ui, _id: egui_tiles::TileId, tile: &mut Tile) -> egui_tiles::UiResponse {
        match *tile {
            Tile::Pane(p) => pane_ui(ui, self.device, self.state, p, &mut self.frame),
            Tile::Xy => {
                if let Some(xy) = self.state.xy {
                    let range = self.frame.follow_range.unwrap_or_else(|| {
                        let newest = self.device.newest_s().unwrap_or(0.0);
                        (newest - self.state.window_s, newest)
                    });
                    xy_ui(ui, self.device, self.state, xy, range, ui.available_height());
                }
            }
        }
        egui_tiles::UiResponse::None
    }

    fn tab_title_for_pane(&mut self, tile: &Tile) -> egui::WidgetText {
        match *tile {
            Tile::Pane(p) => self.state.panes.get(p).map_or_else(String::new, |pane| pane.title.clone()).into(),
            Tile::Xy => "XY".into(),
        }
    }

    /// Every pane has a tab, which is the handle to drag it into another row, column or tab group.
    fn simplification_options(&self) -> egui_tiles::SimplificationOptions {
        egui_tiles::SimplificationOptions { all_panes_must_have_tabs: true, ..Default::default() }
    }
}

/// Draws the panes; returns the time under the pointer, if any.
pub fn plots_ui(ui: &mut egui::Ui, device: &LiveDevice, state: &mut PlotState, layout: &mut PlotLayout) -> Option<f64> {
    let newest = device.newest_s().unwrap_or(0.0);
    let end = state.paused_at_s.unwrap_or(newest);
    let whole = if state.fit_all && !state.follow {
        state.fit_all = false;
        device.channels.iter().filter_map(|c| c.series.time_range()).reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)))
    } else {
        None
    };
    let follow_range = if state.follow { Some((end - state.window_s, end)) } else { whole };
    layout.sync(state);
    let frame = Frame {
        follow_range,
        drawn: None,
        group: Id::unique("benchtop-live-plots"),
        hovered_t: None,
        user_moved: false,
    };
    let mut behavior = Behavior { device, state, frame };
    // Room is left for the read-out line under the panes.
    let size = egui::vec2(ui.available_width(), (ui.available_height() - READOUT_HEIGHT).max(120.0));
    ui.allocate_ui(size, |ui| layout.tree.ui(&mut behavior, ui));
    let Frame { hovered_t, user_moved, drawn, .. } = behavior.frame;
    state.view_range = drawn.or(state.view_range);
    if user_moved && state.follow {
        state.follow = false;
        state.paused_at_s.get_or_insert(end);
    }
    hovered_t
}

/// One plot pane.
fn pane_ui(ui: &mut egui::Ui, device: &LiveDevice, state: &PlotState, p: usize, frame: &mut Frame) {
    let Some(pane) = state.panes.get(p) else { return };
    let follow_range = frame.follow_range;
    let mut drawn = None;
    let plot = Plot::new(("pane", p))
        .height(ui.available_height())
        .legend(Legend::default())
        .link_axis(frame.group, [true, false])
        .link_cursor(frame.group, [true, false])
        .y_axis_label(pane.title.clone())
        .x_axis_formatter(|mark, _| format_time(mark.value))
        .y_axis_formatter(|mark, _| format_compact(mark.value))
        .y_axis_min_width(Y_AXIS_WIDTH);
    let response = plot.show(ui, |plot_ui| {
        if let Some((t0, t1)) = follow_range {
            plot_ui.set_plot_bounds_x(t0..=t1);
        }
        let bounds = plot_ui.plot_bounds();
        let (t0, t1) = follow_range.unwrap_or((bounds.min()[0], bounds.max()[0]));
        let columns = plot_ui.transform().frame().width().max(1.0) as usize;
        drawn = Some((t0, t1));
        for &i in &pane.channels {
            let Some(channel) = device.channels.get(i) else { continue };
            if !state.visible.get(i).copied().unwrap_or(true) {
                continue;
            }
            let mut points = Vec::new();
            for column in channel.series.envelope(t0, t1, columns) {
                points.push([column.t, f64::from(column.min)]);
                if column.max != column.min {
                    points.push([column.t, f64::from(column.max)]);
                }
            }
            let name = if channel.unit.is_empty() {
                channel.name.clone()
            } else {
                format!("{} ({})", channel.name, channel.unit)
            };
            plot_ui.line(Line::new(name, PlotPoints::new(points)).color(state.color(i)).width(1.5));
        }
        plot_ui.pointer_coordinate().map(|p| p.x)
    });
    let r = &response.response;
    frame.user_moved |= r.dragged() || (r.hovered() && ui.input(|i| i.smooth_scroll_delta != egui::Vec2::ZERO));
    frame.hovered_t = frame.hovered_t.or(response.inner);
    frame.drawn = frame.drawn.or(drawn);
}

/// Most points an XY plot draws (the newest).
const XY_POINTS: usize = 5000;

/// Channel `y` against channel `x`: each `y` sample in the time range paired with the `x` sample nearest it.
fn xy_ui(
    ui: &mut egui::Ui,
    device: &LiveDevice,
    state: &PlotState,
    (x, y): (usize, usize),
    range: (f64, f64),
    height: f32,
) {
    let (Some(cx), Some(cy)) = (device.channels.get(x), device.channels.get(y)) else { return };
    let mut points: Vec<[f64; 2]> = cy
        .series
        .raw_range(range.0, range.1)
        .filter_map(|(t, vy)| cx.series.nearest(t).map(|(_, vx)| [f64::from(vx), f64::from(vy)]))
        .collect();
    if points.len() > XY_POINTS {
        points.drain(..points.len() - XY_POINTS);
    }
    let label = |c: &crate::model::live::LiveChannel| {
        if c.unit.is_empty() { c.name.clone() } else { format!("{} ({})", c.name, c.unit) }
    };
    Plot::new("xy").height(height).x_axis_label(label(cx)).y_axis_label(label(cy)).y_axis_min_width(Y_AXIS_WIDTH).show(
        ui,
        |plot_ui| {
            plot_ui.points(
                egui_plot::Points::new(format!("{} vs {}", cy.name, cx.name), PlotPoints::new(points))
                    .color(state.color(y))
                    .radius(1.5),
            );
        },
    );
}

/// The values of every visible channel at time `t_s`, for the read-out under the plots.
pub fn readout_ui(ui: &mut egui::Ui, device: &LiveDevice, state: &PlotState, t_s: f64) {
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(format!("t = {}", format_time(t_s))).monospace());
        for (i, channel) in device.channels.iter().enumerate() {
            if !state.visible.get(i).copied().unwrap_or(true) {
                continue;
            }
            if let Some((_, value)) = channel.series.nearest(t_s) {
                ui.label(
                    RichText::new(format!("{} {value:.4} {}", channel.name, channel.unit))
                        .color(state.color(i))
                        .monospace(),
                );
            }
        }
    });
}

/// Height kept for the cursor read-out under the panes, points.
const READOUT_HEIGHT: f32 = 24.0;

/// Width of every pane's y axis, so that the time axes line up.
const Y_AXIS_WIDTH: f32 = 56.0;

/// A tick value in at most about five characters: `0.25`, `3.9`, `12k`, `120M`.
pub fn format_compact(value: f64) -> String {
    let magnitude = value.abs();
    let (scaled, suffix) = match magnitude {
        m if m >= 1e9 => (value / 1e9, "G"),
        m if m >= 1e6 => (value / 1e6, "M"),
        m if m >= 1e4 => (value / 1e3, "k"),
        _ => (value, ""),
    };
    let text = format!("{scaled:.3}");
    let text = if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.') } else { &text };
    format!("{text}{suffix}")
}

/// `12.345 s`, or `m:ss.s` past a minute, or `h:mm:ss` past an hour.
pub fn format_time(t_s: f64) -> String {
    if t_s.abs() < 60.0 {
        format!("{t_s:.3} s")
    } else if t_s.abs() < 3600.0 {
        format!("{}:{:04.1}", (t_s / 60.0).floor(), t_s.rem_euclid(60.0))
    } else {
        let total = t_s.floor() as i64;
        format!("{}:{:02}:{:02}", total / 3600, (total / 60) % 60, total % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_move_between_panes_and_empty_panes_go() {
        let mut state = PlotState {
            panes: vec![
                Pane { title: "°C".into(), channels: vec![0, 1] },
                Pane { title: "V".into(), channels: vec![2] },
            ],
            visible: vec![true; 3],
            ..Default::default()
        };
        state.move_to_pane(2, Some(0), "battery");
        assert_eq!(state.panes, vec![Pane { title: "°C".into(), channels: vec![0, 1, 2] }]);
        state.move_to_pane(1, None, "humidity");
        assert_eq!(state.panes[1], Pane { title: "humidity".into(), channels: vec![1] });
        assert_eq!(state.panes[0].channels, vec![0, 2]);
        assert_eq!(state.color(1), theme::SERIES[1]);
    }

    #[test]
    fn a_saved_arrangement_is_kept_while_the_panes_match() {
        let mut state = PlotState {
            panes: vec![Pane { title: "a".into(), channels: vec![0] }, Pane { title: "b".into(), channels: vec![1] }],
            visible: vec![true; 2],
            ..Default::default()
        };
        let side_by_side = egui_tiles::Tree::new_horizontal(Id::unique("saved"), vec![Tile::Pane(1), Tile::Pane(0)]);
        let mut layout = PlotLayout::new(1);
        layout.restore(side_by_side.clone());
        layout.sync(&state);
        assert_eq!(layout.saved(), Some(&side_by_side));
        // A third pane: the arrangement no longer fits and is rebuilt as a stack.
        state.panes.push(Pane { title: "c".into(), channels: vec![] });
        layout.sync(&state);
        assert_ne!(layout.saved(), Some(&side_by_side));
        assert_eq!(layout.built_for, vec![Tile::Pane(0), Tile::Pane(1), Tile::Pane(2)]);
    }

    #[test]
    fn times_read_naturally() {
        assert_eq!(format_time(1.5), "1.500 s");
        assert_eq!(format_time(75.25), "1:15.2");
        assert_eq!(format_time(3725.0), "1:02:05");
    }

    #[test]
    fn ticks_stay_short() {
        assert_eq!(format_compact(120_000_000.0), "120M");
        assert_eq!(format_compact(12_500.0), "12.5k");
        assert_eq!(format_compact(3.9), "3.9");
        assert_eq!(format_compact(0.25), "0.25");
        assert_eq!(format_compact(0.0), "0");
        assert_eq!(format_compact(-2_000_000.0), "-2M");
    }
}
