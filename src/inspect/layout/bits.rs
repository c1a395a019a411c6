//! MSB-first bit reading and writing over a byte payload, the one primitive every layout field uses.
//!
//! Bit 0 is the most significant bit of byte 0; a read of `n` bits may cross byte boundaries. Reads never
//! panic: a read past the end returns `None` and leaves the cursor where it was. Writes grow the buffer.

/// Reads bits from a payload, most significant bit first.
#[derive(Debug, Clone)]
pub(crate) struct BitReader<'a> {
    bytes: &'a [u8],
    /// Position of the next bit, from the first bit of the payload.
    bit_position: u64,
}

impl<'a> BitReader<'a> {
    /// A reader at the first bit of `bytes`.
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, bit_position: 0 }
    }

    /// Position of the next bit.
    pub(crate) fn bit_position(&self) -> u64 {
        self.bit_position
    }

    /// Bits left to read.
    pub(crate) fn remaining_bits(&self) -> u64 {
        (self.bytes.len() as u64 * 8).saturating_sub(self.bit_position)
    }

    /// Reads `bit_count` (≤ 64) bits as an unsigned number, or `None` when fewer remain.
    pub(crate) fn read_bits(&mut self, bit_count: u32) -> Option<u64> {
        if bit_count > 64 || u64::from(bit_count) > self.remaining_bits() {
            return None;
        }
        let mut value: u64 = 0;
        for _ in 0..bit_count {
            let byte = *self.bytes.get(usize::try_from(self.bit_position / 8).ok()?)?;
            let bit = (byte >> (7 - (self.bit_position % 8))) & 1;
            value = (value << 1) | u64::from(bit);
            self.bit_position += 1;
        }
        Some(value)
    }
}

/// Writes bits into a growing buffer, most significant bit first.
#[derive(Debug, Clone, Default)]
pub(crate) struct BitWriter {
    bytes: Vec<u8>,
    bit_position: u64,
}

impl BitWriter {
    /// Appends the low `bit_count` (≤ 64) bits of `value`, most significant first.
    pub(crate) fn write_bits(&mut self, value: u64, bit_count: u32) {
        for index in (0..bit_count.min(64)).rev() {
            let bit = ((value >> index) & 1) as u8;
            let byte_index = (self.bit_position / 8) as usize;
            if byte_index == self.bytes.len() {
                self.bytes.push(0);
            }
            if let Some(byte) = self.bytes.get_mut(byte_index) {
                *byte |= bit << (7 - (self.bit_position % 8));
            }
            self.bit_position += 1;
        }
    }

    /// Appends whole bytes (after any partial byte, which is left as written).
    pub(crate) fn write_bytes(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.write_bits(u64::from(*byte), 8);
        }
    }

    /// The bytes written; a last partial byte is padded with zero bits.
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cross_byte_boundaries_msb_first() {
        // 1010_1100 0011_0101: 3 bits 101, then 9 bits 0_1100_0011, then 4 bits 0101.
        let mut reader = BitReader::new(&[0b1010_1100, 0b0011_0101]);
        assert_eq!(reader.read_bits(3), Some(0b101));
        assert_eq!(reader.read_bits(9), Some(0b0_1100_0011));
        assert_eq!(reader.read_bits(5), None, "only 4 bits left");
        assert_eq!(reader.bit_position(), 12);
        assert_eq!(reader.read_bits(4), Some(0b0101));
        assert_eq!(reader.remaining_bits(), 0);
    }

    #[test]
    fn writer_is_the_inverse_of_reader() {
        let mut writer = BitWriter::default();
        writer.write_bits(0b101, 3);
        writer.write_bits(0b0_1100_0011, 9);
        writer.write_bits(0b0101, 4);
        writer.write_bytes(&[0xAB]);
        writer.write_bits(1, 1);
        assert_eq!(writer.into_bytes(), [0b1010_1100, 0b0011_0101, 0xAB, 0b1000_0000]);
    }

    #[test]
    fn sixty_four_bits_at_an_odd_position() {
        let mut writer = BitWriter::default();
        writer.write_bits(1, 1);
        writer.write_bits(u64::MAX - 5, 64);
        let bytes = writer.into_bytes();
        let mut reader = BitReader::new(&bytes);
        assert_eq!(reader.read_bits(1), Some(1));
        assert_eq!(reader.read_bits(64), Some(u64::MAX - 5));
    }
}
