//! Pure logic with no egui and no tokio: what a source string means, and (later) trace stores, decoders and
//! energy maths. Everything here is testable without a window or a runtime.

pub mod budget;
pub mod live;
pub mod series;
pub mod source;
pub mod text_position;
pub mod textline;
pub mod units;
pub mod url_text;
