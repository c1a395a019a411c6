//! The Benchtop byte stream over GATT: a [`Link`] whose bytes arrive as TX notifications and leave as RX
//! writes, so that [`Session::over`](crate::io::Session::over) runs on it unchanged.
//!
//! Below the link is a [`GattPipe`]: the values of TX notifications in order, and a queue of RX writes. Any
//! peripheral gives one — the simulated one in [`super::sim_peripheral`], a real one through
//! [`super::central`]. Outgoing chunks are cut into writes of at most `ATT MTU − 3` bytes
//! ([`firmware_protocol::ble::max_write_len`]). Incoming notifications are passed on as chunks of the byte
//! stream: the session's frame decoder reassembles frames by their `0x00` delimiters, so a frame spanning
//! notifications and a notification holding several frames need nothing special here.
//!
//! The link ends when the peripheral's notification queue closes (a disconnect), and the pipe's queues
//! close when the link is dropped, which tells the peripheral side to disconnect.

use std::sync::atomic::Ordering;

use firmware_protocol::ble::max_write_len;
use tokio::sync::mpsc;

use crate::io::link::Link;

/// RX writes queued before the link waits for the peripheral to take them.
pub const GATT_WRITE_QUEUE: usize = 64;
/// TX notifications queued before the peripheral side waits for the link to take them.
pub const GATT_NOTIFICATION_QUEUE: usize = 256;

/// The two characteristics of a connected Benchtop peripheral, as queues.
pub struct GattPipe {
    /// TX notification values in the order they arrived; closes when the peripheral disconnects.
    pub notifications: mpsc::Receiver<Vec<u8>>,
    /// RX writes, each at most `max_write_len(att_mtu)` bytes, written without response in order.
    pub writes: mpsc::Sender<Vec<u8>>,
    /// The connection's ATT MTU, in bytes.
    pub att_mtu: u16,
}

/// The peripheral's end of a [`GattPipe`].
pub struct GattPipeEnd {
    /// Where notifications go.
    pub notifications: mpsc::Sender<Vec<u8>>,
    /// Where writes come from.
    pub writes: mpsc::Receiver<Vec<u8>>,
}

/// A new pipe at `att_mtu` and its peripheral end.
pub fn gatt_pipe(att_mtu: u16) -> (GattPipe, GattPipeEnd) {
    let (notify_tx, notify_rx) = mpsc::channel(GATT_NOTIFICATION_QUEUE);
    let (write_tx, write_rx) = mpsc::channel(GATT_WRITE_QUEUE);
    (
        GattPipe { notifications: notify_rx, writes: write_tx, att_mtu },
        GattPipeEnd { notifications: notify_tx, writes: write_rx },
    )
}

/// Cuts `bytes` into pieces that each fit one write or notification at `att_mtu`.
pub fn split_for_mtu(bytes: &[u8], att_mtu: u16) -> impl Iterator<Item = &[u8]> {
    bytes.chunks(max_write_len(att_mtu))
}

/// A link over `pipe`. Must run inside the tokio runtime.
pub fn gatt_link(pipe: GattPipe) -> Link {
    let GattPipe { mut notifications, writes, att_mtu } = pipe;
    let (link, in_tx, mut out_rx) = Link::new_parts();
    let stats = link.stats.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                value = notifications.recv() => {
                    let Some(value) = value else { break };
                    stats.bytes_rx.fetch_add(value.len() as u64, Ordering::Relaxed);
                    if in_tx.send(value).await.is_err() {
                        break;
                    }
                }
                () = in_tx.closed() => break,
            }
        }
    });
    let stats = link.stats.clone();
    tokio::spawn(async move {
        while let Some(chunk) = out_rx.recv().await {
            for piece in split_for_mtu(&chunk, att_mtu) {
                if writes.send(piece.to_vec()).await.is_err() {
                    return;
                }
            }
            stats.bytes_tx.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        }
    });
    link
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_fit_the_mtu_and_keep_every_byte() {
        let bytes: Vec<u8> = (0..=255).collect();
        for mtu in [23u16, 27, 185, 247] {
            let pieces: Vec<&[u8]> = split_for_mtu(&bytes, mtu).collect();
            assert!(pieces.iter().all(|p| p.len() <= usize::from(mtu) - 3));
            assert_eq!(pieces.concat(), bytes);
        }
    }

    #[tokio::test]
    async fn writes_are_split_and_notifications_pass_through_whole() {
        let (pipe, mut end) = gatt_pipe(23);
        let mut link = gatt_link(pipe);
        link.outgoing.send(vec![7u8; 45]).await.unwrap();
        let mut lengths = Vec::new();
        while lengths.iter().sum::<usize>() < 45 {
            lengths.push(end.writes.recv().await.unwrap().len());
        }
        assert_eq!(lengths, vec![20, 20, 5]);
        end.notifications.send(vec![1, 2, 0, 3]).await.unwrap();
        assert_eq!(link.incoming.recv().await.unwrap(), vec![1, 2, 0, 3]);
        drop(end);
        assert!(link.incoming.recv().await.is_none(), "a disconnect closes the link");
    }
}
