//! Background I/O: links that move bytes (serial, TCP, in-process simulated board), the postcard-rpc wire
//! that frames them, and the device session on top. Nothing here blocks the UI: blocking reads run on named
//! threads, everything else on the tokio runtime, and results travel on bounded channels.

pub mod board;
pub mod capture;
pub mod device_task;
pub mod feed;
pub mod link;
pub mod ports;
pub mod ppk2;
pub mod ppk2_trace;
pub mod recorder;
pub mod replay;
pub mod session;
pub mod trace_sink;
pub mod wire;

pub use board::{Board, OpenBoard, TextBoard};
pub use link::{Link, LinkError, LinkStats, LinkStatsSnapshot};
pub use session::{Session, SessionError, SessionOptions, Telemetry, TelemetryStream};
