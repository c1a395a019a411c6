//! The Benchtop GATT service: how the framed byte stream of [`crate::framing`] travels over Bluetooth Low
//! Energy.
//!
//! A board offers one primary service, [`SERVICE_UUID`], with two characteristics:
//!
//! * [`RX_CHARACTERISTIC_UUID`] — host → device, *write without response*. The host writes the same
//!   COBS-framed bytes it would send on a serial line, cut into pieces of at most `ATT MTU − 3` bytes
//!   ([`max_write_len`]).
//! * [`TX_CHARACTERISTIC_UUID`] — device → host, *notify*. The device sends its framed byte stream in
//!   notifications of at most `ATT MTU − 3` bytes each.
//!
//! Neither side may assume that a notification or a write holds exactly one frame: a frame can span several
//! notifications and one notification can carry the end of one frame and the start of the next. The `0x00`
//! delimiter alone marks frame ends, exactly as on a serial line, so the same [`crate::FrameDecoder`] reads
//! both. This is what makes the stream independent of the negotiated MTU.
//!
//! The UUIDs share one random 128-bit base (`9727xxxx-8144-4310-829d-64559c584769`), varying only in the
//! second 16-bit group, like other vendor services do; they are written as `u128` so that this crate needs
//! no UUID type. Byte order on air is little-endian ([`uuid_le_bytes`]), as in advertisement data.

/// The Benchtop protocol service (primary). Advertised by boards so that a scan can tell them apart.
pub const SERVICE_UUID: u128 = 0x9727_0001_8144_4310_829d_6455_9c58_4769;

/// Host → device: the framed byte stream, written without response.
pub const RX_CHARACTERISTIC_UUID: u128 = 0x9727_0002_8144_4310_829d_6455_9c58_4769;

/// Device → host: the framed byte stream, notified.
pub const TX_CHARACTERISTIC_UUID: u128 = 0x9727_0003_8144_4310_829d_6455_9c58_4769;

/// The ATT MTU every connection starts with, in bytes, before an exchange raises it.
pub const DEFAULT_ATT_MTU: u16 = 23;

/// Bytes of ATT header (opcode and handle) in each write or notification, which the MTU includes.
pub const ATT_HEADER_LEN: u16 = 3;

/// Most bytes of the stream one write or notification carries at an ATT MTU of `att_mtu` bytes (at least one
/// byte, whatever MTU is claimed).
pub const fn max_write_len(att_mtu: u16) -> usize {
    let mtu = if att_mtu < DEFAULT_ATT_MTU { DEFAULT_ATT_MTU } else { att_mtu };
    (mtu - ATT_HEADER_LEN) as usize
}

/// A UUID's 16 bytes in the order they travel in advertisements and ATT PDUs (least significant first).
pub const fn uuid_le_bytes(uuid: u128) -> [u8; 16] {
    uuid.to_le_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_share_the_base_and_differ_in_the_second_group() {
        let base_mask = !(0xffff_u128 << 96);
        assert_eq!(SERVICE_UUID & base_mask, RX_CHARACTERISTIC_UUID & base_mask);
        assert_eq!(SERVICE_UUID & base_mask, TX_CHARACTERISTIC_UUID & base_mask);
        assert_eq!((SERVICE_UUID >> 96) & 0xffff, 1);
        assert_eq!((RX_CHARACTERISTIC_UUID >> 96) & 0xffff, 2);
        assert_eq!((TX_CHARACTERISTIC_UUID >> 96) & 0xffff, 3);
    }

    #[test]
    fn golden_service_uuid_bytes_on_air() {
        assert_eq!(
            uuid_le_bytes(SERVICE_UUID),
            [0x69, 0x47, 0x58, 0x9c, 0x55, 0x64, 0x9d, 0x82, 0x10, 0x43, 0x44, 0x81, 0x01, 0x00, 0x27, 0x97]
        );
    }

    #[test]
    fn write_length_is_the_mtu_less_the_att_header() {
        assert_eq!(max_write_len(23), 20);
        assert_eq!(max_write_len(27), 24);
        assert_eq!(max_write_len(185), 182);
        assert_eq!(max_write_len(247), 244);
        assert_eq!(max_write_len(0), 20);
    }
}
