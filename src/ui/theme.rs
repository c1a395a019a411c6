//! Colours and spacing, in one place.

use eframe::egui::Color32;

/// Space between sections, points.
pub const SECTION_SPACING: f32 = 12.0;
/// A healthy state (connected).
pub const OK: Color32 = Color32::from_rgb(0x3f, 0xb9, 0x50);
/// A state in progress (connecting).
pub const PENDING: Color32 = Color32::from_rgb(0xd2, 0x99, 0x22);
/// A failure.
pub const ERROR: Color32 = Color32::from_rgb(0xf8, 0x51, 0x49);
/// Secondary text.
pub const MUTED: Color32 = Color32::from_rgb(0x8b, 0x94, 0x9e);

/// Channel colours, in order; chosen to stay apart on dark and light backgrounds.
pub const SERIES: [Color32; 8] = [
    Color32::from_rgb(0x4c, 0x9a, 0xff),
    Color32::from_rgb(0xff, 0x9f, 0x43),
    Color32::from_rgb(0x3f, 0xb9, 0x50),
    Color32::from_rgb(0xe0, 0x5d, 0xa8),
    Color32::from_rgb(0xa3, 0x71, 0xf7),
    Color32::from_rgb(0x2e, 0xc4, 0xc4),
    Color32::from_rgb(0xd2, 0x99, 0x22),
    Color32::from_rgb(0xf8, 0x51, 0x49),
];
