// Branch filters. Why each is a bijection on any bytes, not only on real code:
//
// x86: the scan visits positions left to right. At E8 (call rel32) or a RIP-relative memory
// operand (see RipOperand; E9 jmp and 0F 8x jcc rel32 are options, off by default) whose disp32
// ends in 0x00 or 0xFF (within +-16 MiB), the disp32 becomes (displacement +- absolute offset of
// its end) mod 2^25, sign-extended from bit 24, so its top byte is again 0x00 or 0xFF; the scan
// resumes after it. (Where an immediate follows, the end of the disp32 is not the end of the
// instruction; any fixed offset works, as long as old and new use the same.) A candidate whose top
// byte does not qualify resumes AT that top byte, so no later conversion can rewrite it as one of
// its low operand bytes (a plain BCJ scan that resumes at the next byte is not invertible on real
// binaries). Then every byte the scan inspects (opcodes at visited positions, top bytes) has the
// same class before and after, the decoder visits the same positions, and each conversion is a
// bijection of the 25-bit value.
//
// AArch64: each 4-aligned word is handled alone (the opcode bits are never changed): BL imm26
// (and B, an option, off by default) becomes (imm26 +- pc/4) mod 2^26; ADRP whose page
// immediate fits 18 bits signed (+-512 MiB, every real one) becomes (imm +- pc/4096) mod 2^18,
// sign-extended to 21 bits. Rejecting wider ADRP immediates leaves most data words in the code
// segment alone, as xz's ARM64 BCJ does.
#include "uplift/delta/filter.hpp"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <initializer_list>

namespace uplift::delta {
namespace {

// Defaults measured on the benchmark corpus with bsdiff (docs/BENCHMARKS.md). Calls and
// RIP-relative data references (which all change when code grows and pushes the data sections)
// win on every pair; jmp and jcc targets are mostly inside the same function, where the relative
// form is already the stable one, and converting them made patches larger.
struct X86Options {
  bool call = true;
  bool jmp = false;
  bool jcc = false;
  bool rip = true;
};

// Measured like the x86 ones: BL and narrow ADRP each shrink every arm64 pair; B (mostly
// intra-function) and ADRP beyond 18 bits made patches larger.
struct Arm64Options {
  bool b = false;
  bool adrp = true;
  bool adrp_narrow = true;
};

std::uint32_t SignExtend(std::uint32_t value, int bits) {
  const std::uint32_t mask = (std::uint32_t{1} << bits) - 1;
  value &= mask;
  if (value & (std::uint32_t{1} << (bits - 1))) value |= ~mask;
  return value;
}

// ModRM mod=00 rm=101 ([rip + disp32]) is accepted after these opcodes: the common integer
// moves, loads, stores, lea and compares, and (after 0F) the SSE moves and arithmetic that load
// constants. The wider set shrank patches by ~1% more than the five commonest opcodes alone.
constexpr std::array<bool, 256> OpcodeSet(std::initializer_list<std::uint8_t> opcodes) {
  std::array<bool, 256> set{};
  for (std::uint8_t op : opcodes) set[op] = true;
  return set;
}
constexpr auto kOneByteRipOpcodes =
    OpcodeSet({0x01, 0x03, 0x09, 0x0B, 0x21, 0x23, 0x29, 0x2B, 0x31, 0x33, 0x39, 0x3B, 0x63,
               0x80, 0x81, 0x83, 0x84, 0x85, 0x88, 0x89, 0x8A, 0x8B, 0x8D, 0xC6, 0xC7});
constexpr auto kTwoByteRipOpcodes =  // after 0F
    OpcodeSet({0x10, 0x11, 0x28, 0x29, 0x2E, 0x2F, 0x54, 0x57, 0x58, 0x59, 0x5C,
               0x5E, 0x6F, 0x7F, 0xB6, 0xB7, 0xBE, 0xBF, 0xD6, 0xDB, 0xEF});

// Where the disp32 of a RIP-relative instruction starting at i ([66|F2|F3] [REX] opcode ModRM,
// or FF 15 / FF 25: call/jmp through the GOT) begins; 0 if none. Bijectivity needs that no byte
// read here before the ModRM can itself start a candidate whose operand covers a later byte read
// here: no prefix or opcode byte accepted is E8 or has the RIP ModRM form.
std::size_t RipOperand(const std::uint8_t* b, std::size_t i, std::size_t to) {
  std::size_t op = i;
  if (b[op] == 0x66 || b[op] == 0xF2 || b[op] == 0xF3) ++op;
  if (op < to && (b[op] & 0xF0) == 0x40) ++op;  // REX
  if (op + 1 >= to) return 0;
  if (b[op] == 0x0F) {
    ++op;
    if (op + 1 >= to || !kTwoByteRipOpcodes[b[op]]) return 0;
    return (b[op + 1] & 0xC7) == 0x05 ? op + 2 : 0;
  }
  const std::uint8_t opcode = b[op];
  const std::uint8_t modrm = b[op + 1];
  if (opcode == 0xFF) return (modrm == 0x15 || modrm == 0x25) ? op + 2 : 0;
  return kOneByteRipOpcodes[opcode] && (modrm & 0xC7) == 0x05 ? op + 2 : 0;
}

// Where the rel32 operand of a candidate instruction starting at i begins; 0 if none.
std::size_t OperandAt(const std::uint8_t* b, std::size_t i, std::size_t to, X86Options options) {
  if ((options.call && b[i] == 0xE8) || (options.jmp && b[i] == 0xE9)) return i + 1;
  if (options.jcc && b[i] == 0x0F && i + 1 < to && (b[i + 1] & 0xF0) == 0x80) return i + 2;
  return options.rip ? RipOperand(b, i, to) : 0;
}

// `bytes` start at absolute offset `base`; only [from, to) of them may change.
void X86(bool encode, std::uint64_t base, MutableByteView bytes, std::size_t from, std::size_t to,
         X86Options options) {
  std::uint8_t* b = bytes.data();
  std::size_t i = from;
  while (i < to) {
    const std::size_t operand = OperandAt(b, i, to, options);
    const std::size_t next = operand + 4;
    if (operand == 0 || next > to) {
      ++i;
      continue;
    }
    const std::uint8_t top = b[operand + 3];
    if (top != 0x00 && top != 0xFF) {
      i = operand + 3;
      continue;
    }
    const auto pc = static_cast<std::uint32_t>(base + next);
    const std::uint32_t disp = LoadLe32(b + operand);
    StoreLe32(b + operand, SignExtend(encode ? disp + pc : disp - pc, 25));
    i = next;
  }
}

void Arm64(bool encode, std::uint64_t base, MutableByteView bytes, std::size_t from, std::size_t to,
           Arm64Options options) {
  std::uint8_t* b = bytes.data();
  // Alignment is absolute, so it does not depend on where the block starts.
  std::size_t i = from + static_cast<std::size_t>((4 - ((base + from) & 3)) & 3);
  for (; i + 4 <= to; i += 4) {
    const std::uint64_t pc = base + i;
    std::uint32_t insn = LoadLe32(b + i);
    const std::uint32_t op = insn & 0xFC000000;
    if (op == 0x94000000 || (options.b && op == 0x14000000)) {  // BL, B
      const auto shift = static_cast<std::uint32_t>(pc >> 2);
      const std::uint32_t imm = insn & 0x03FFFFFF;
      insn = op | ((encode ? imm + shift : imm - shift) & 0x03FFFFFF);
    } else if (options.adrp && (insn & 0x9F000000) == 0x90000000) {
      const std::uint32_t imm = ((insn >> 29) & 3) | ((insn >> 3) & 0x001FFFFC);
      const auto page = static_cast<std::uint32_t>(pc >> 12);
      std::uint32_t moved;
      if (options.adrp_narrow) {
        if (((imm + 0x20000) & 0x1FFFFF) >= 0x40000) continue;
        moved = SignExtend(encode ? imm + page : imm - page, 18) & 0x1FFFFF;
      } else {
        moved = (encode ? imm + page : imm - page) & 0x1FFFFF;
      }
      insn = (insn & 0x9F00001F) | ((moved & 3) << 29) | ((moved >> 2) << 5);
    } else {
      continue;
    }
    StoreLe32(b + i, insn);
  }
}

void Run(bool encode, const FilterSpec& spec, std::uint64_t offset, MutableByteView bytes,
         X86Options x86 = {}, Arm64Options arm64 = {}) {
  if (offset % kFilterBlockSize != 0) std::abort();
  if (spec.kind == Filter::kNone) return;
  if (spec.kind != Filter::kX86 && spec.kind != Filter::kArm64) std::abort();
  for (std::size_t start = 0; start < bytes.size(); start += kFilterBlockSize) {
    const std::size_t size = std::min<std::size_t>(kFilterBlockSize, bytes.size() - start);
    const std::uint64_t base = offset + start;
    // The block's part of [spec.begin, spec.end), relative to the block.
    const std::uint64_t lo = std::max(spec.begin, base);
    const std::uint64_t hi = std::min(spec.end, base + size);
    if (lo >= hi) continue;
    const MutableByteView block = bytes.subspan(start, size);
    const auto from = static_cast<std::size_t>(lo - base);
    const auto to = static_cast<std::size_t>(hi - base);
    if (spec.kind == Filter::kX86) {
      X86(encode, base, block, from, to, x86);
    } else {
      Arm64(encode, base, block, from, to, arm64);
    }
  }
}

constexpr std::uint16_t kEmX86_64 = 62;
constexpr std::uint16_t kEmAarch64 = 183;
constexpr std::uint32_t kPtLoad = 1;
constexpr std::uint32_t kPfX = 1;
constexpr std::size_t kElf64HeaderSize = 64;
constexpr std::size_t kElf64PhdrSize = 56;

}  // namespace

void FilterEncode(const FilterSpec& spec, std::uint64_t offset, MutableByteView bytes) {
  Run(true, spec, offset, bytes);
}

void FilterDecode(const FilterSpec& spec, std::uint64_t offset, MutableByteView bytes) {
  Run(false, spec, offset, bytes);
}

FilterSpec DetectFilter(ByteView image) {
  const std::uint8_t* p = image.data();
  if (image.size() < kElf64HeaderSize) return {};
  // Magic, ELFCLASS64, ELFDATA2LSB.
  if (p[0] != 0x7F || p[1] != 'E' || p[2] != 'L' || p[3] != 'F' || p[4] != 2 || p[5] != 1) {
    return {};
  }
  Filter kind;
  switch (LoadLe16(p + 18)) {
    case kEmX86_64:
      kind = Filter::kX86;
      break;
    case kEmAarch64:
      kind = Filter::kArm64;
      break;
    default:
      return {};
  }
  const std::uint64_t phoff = LoadLe64(p + 32);
  const std::uint16_t phentsize = LoadLe16(p + 54);
  const std::uint16_t phnum = LoadLe16(p + 56);
  // phnum 0xFFFF (PN_XNUM) would send us to section 0; real executables never need it.
  if (phentsize < kElf64PhdrSize || phnum == 0 || phnum == 0xFFFF) return {};
  const std::uint64_t table = std::uint64_t{phentsize} * phnum;  // < 2^32, no overflow
  if (phoff > image.size() || table > image.size() - phoff) return {};

  std::uint64_t begin = image.size();
  std::uint64_t end = 0;
  for (std::uint16_t n = 0; n < phnum; ++n) {
    const std::uint8_t* ph = p + phoff + std::uint64_t{n} * phentsize;
    if (LoadLe32(ph) != kPtLoad || (LoadLe32(ph + 4) & kPfX) == 0) continue;
    const std::uint64_t offset = LoadLe64(ph + 8);
    const std::uint64_t filesz = LoadLe64(ph + 32);
    if (offset >= image.size() || filesz == 0) continue;
    const std::uint64_t seg_end = offset + std::min(filesz, image.size() - offset);
    begin = std::min(begin, offset);
    end = std::max(end, seg_end);
  }
  if (begin >= end) return {};
  return FilterSpec{kind, begin, end};
}

}  // namespace uplift::delta
