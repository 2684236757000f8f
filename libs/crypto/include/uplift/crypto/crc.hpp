// Non-cryptographic checksums used by on-device formats (U-Boot env, MCUboot, serial frames).
//
// Each function continues a running checksum: Crc32(b, Crc32(a)) == Crc32(a ++ b). The initial
// value is the default argument. All are slice-by-8 table driven.
#pragma once

#include <cstdint>

#include "uplift/base/bytes.hpp"

namespace uplift::crypto {

// CRC-32/ISO-HDLC (zlib, U-Boot env): reflected poly 0x04C11DB7, init/xorout 0xFFFFFFFF.
// Check value of "123456789": 0xCBF43926.
std::uint32_t Crc32(ByteView data, std::uint32_t crc = 0);
// CRC-32C (Castagnoli): reflected poly 0x1EDC6F41, init/xorout 0xFFFFFFFF. Check 0xE3069283.
std::uint32_t Crc32c(ByteView data, std::uint32_t crc = 0);
// CRC-16/XMODEM: poly 0x1021, init 0, no reflection, no xorout. Check 0x31C3.
std::uint16_t Crc16Xmodem(ByteView data, std::uint16_t crc = 0);
// CRC-16/CCITT-FALSE (IBM-3740): poly 0x1021, init 0xFFFF, no reflection, no xorout. Check 0x29B1.
std::uint16_t Crc16CcittFalse(ByteView data, std::uint16_t crc = 0xFFFF);

}  // namespace uplift::crypto
